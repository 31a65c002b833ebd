import type { HttpHost } from '../http-host.js';
import type { SimLog } from '../log.js';
import type { GroupHub } from '../udp-service.js';
import type { LabProfile } from '../profile.js';

export interface ResponderContext {
  readonly profile: LabProfile;
  readonly log: SimLog;
  /** Shared HTTP servers: register routes in start(); the simulator listens after every start(). */
  readonly http: HttpHost;
  /**
   * The address the device's sockets bind to: 0.0.0.0 for a device alone in its namespace, its own
   * address when many devices share one namespace and one process (the crowd, crowd.ts).
   */
  readonly bindAddress: string;
  /** Present in a crowd: multicast is heard once for every device (udp-service.ts GroupHub). */
  readonly groupHub?: GroupHub;
}

export interface RunningResponder {
  /** Human-readable endpoints for the log, e.g. `udp 0.0.0.0:3702 + 239.255.255.250`. */
  readonly endpoints: string[];
  close(): Promise<void>;
}

/**
 * A protocol the simulated device speaks. It runs when the profile has its `key` (one
 * top-level profile key per protocol: wsDiscovery, onvif, later ssdp, mdns, sadp, dhip, …).
 */
export interface Responder {
  readonly key: string;
  readonly description: string;
  start(ctx: ResponderContext): Promise<RunningResponder>;
}
