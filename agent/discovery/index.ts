import type { Discoverer } from './types.js';
import { wsDiscovery } from './wsdiscovery.js';
import { onvifDevice } from './onvif.js';
import { neighbours } from './neighbours.js';

/** The registry: one line adds a discoverer. Phases run in order; discoverers in a phase run together. */
export const discoverers: readonly Discoverer[] = [
  wsDiscovery,
  onvifDevice,
  neighbours,
];
