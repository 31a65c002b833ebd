import type { Discoverer } from './types.js';
import { wsDiscovery } from './wsdiscovery.js';
import { sadp } from './sadp.js';
import { dhip } from './dhip.js';
import { ssdpSearch, upnpDescription } from './ssdp.js';
import { mdns } from './mdns.js';
import { onvifDevice } from './onvif.js';
import { tcpPorts } from './ports.js';
import { httpPages } from './http.js';
import { vendorIdentity } from './vendor-identity.js';
import { tlsCertificates } from './tls.js';
import { rtspProbe } from './rtsp.js';
import { neighbours } from './neighbours.js';

/** The registry: one line adds a discoverer. Phases run in order; discoverers in a phase run together. */
export const discoverers = [
  wsDiscovery,
  sadp,
  dhip,
  ssdpSearch,
  mdns,
  onvifDevice,
  upnpDescription,
  tcpPorts,
  httpPages,
  vendorIdentity,
  tlsCertificates,
  rtspProbe,
  neighbours,
] as const satisfies readonly Discoverer[];

/** A discoverer's one name (see Discoverer.name). */
export type DiscovererName = (typeof discoverers)[number]['name'];
