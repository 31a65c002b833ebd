/**
 * The protocols a simulated device can speak, keyed by profile section. To add one (SSDP,
 * mDNS, Hikvision SADP, Dahua DHIP, vendor HTTP pages, RTSP, TLS…): write
 * responders/<protocol>.ts exporting a Responder whose `key` is the profile key, add its
 * profile type/validation to profile.ts, and list it here.
 */
import { onvifDeviceResponder } from './onvif-device.js';
import { sadpResponder } from './sadp.js';
import { dhipResponder } from './dhip.js';
import { hostileResponder } from './hostile.js';
import { rtspResponder } from './rtsp.js';
import type { Responder } from './types.js';
import { wsDiscoveryResponder } from './ws-discovery.js';
import { httpPagesResponder } from './http-pages.js';
import { tlsResponder } from './tls.js';
import { tcpPortsResponder } from './tcp-ports.js';
import { ssdpResponder } from './ssdp.js';
import { mdnsResponder } from './mdns.js';
import { dahuaCgiResponder, isapiResponder } from './vendor-api.js';

export const RESPONDERS: readonly Responder[] = [wsDiscoveryResponder, onvifDeviceResponder, rtspResponder, sadpResponder, dhipResponder, hostileResponder, httpPagesResponder, tlsResponder, tcpPortsResponder, ssdpResponder, mdnsResponder, isapiResponder, dahuaCgiResponder];

/** Profile keys that are not protocols. */
export const NON_PROTOCOL_KEYS = new Set(['name', 'description', 'source', 'kind', 'ip', 'mac', 'truth', 'ipv6']);
