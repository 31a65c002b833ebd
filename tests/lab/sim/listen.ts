/**
 * Where a simulated device's TCP servers (TLS, RTSP) listen, and listening there.
 */
import type { Server } from 'node:net';
import { isIpv6Only } from './profile.js';
import type { ResponderContext } from './responders/types.js';

/** The IPv6 wildcard address. */
const IPV6_ANY = '::';

/**
 * Its IPv4 side (`bindAddress`), and [::] too for a device with the `ipv6` key (its link-local
 * and unique-local addresses), or [::] alone for an IPv6-only device; the same as its web pages
 * (simulator.ts, HttpHost.listen).
 */
export function tcpListenHosts(ctx: Pick<ResponderContext, 'profile' | 'bindAddress'>): string[] {
  if (ctx.profile.ipv6 === undefined) return [ctx.bindAddress];
  return isIpv6Only(ctx.profile) ? [IPV6_ANY] : [ctx.bindAddress, IPV6_ANY];
}

/**
 * `server.listen` on host and port, resolved once listening. [::] is IPv6 only, so an IPv4 client
 * is still seen at its plain IPv4 address, not as ::ffff:….
 */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host === IPV6_ANY }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
