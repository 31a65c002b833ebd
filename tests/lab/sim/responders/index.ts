/**
 * The protocols a simulated device can speak, keyed by profile section. To add one (SSDP,
 * mDNS, Hikvision SADP, Dahua DHIP, vendor HTTP pages, RTSP, TLS…): write
 * responders/<protocol>.ts exporting a Responder whose `key` is the profile key, add its
 * profile type/validation to profile.ts, and list it here.
 */
import { onvifDeviceResponder } from './onvif-device.js';
import type { Responder } from './types.js';
import { wsDiscoveryResponder } from './ws-discovery.js';

export const RESPONDERS: readonly Responder[] = [wsDiscoveryResponder, onvifDeviceResponder];

/** Profile keys that are not protocols. */
export const NON_PROTOCOL_KEYS = new Set(['name', 'description', 'source', 'kind', 'ip', 'mac', 'truth']);
