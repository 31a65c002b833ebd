/**
 * What the inventory says about each address of a device: its family, the address as written
 * without a zone, its scope, and for an IPv6 link-local address the zone (the scanner's interface
 * it was heard on). A link-local address names a host only together with its link: `fe80::1` on
 * eth0 and on eth1 may be two hosts (RFC 4007 §6), so the agent keeps the zone with it internally
 * (`fe80::1%eth0`, the textual form of RFC 4007 §11) and the document carries it apart, in `zone`,
 * so that `ip` and `addresses` stay plain addresses (JSON Schema `format: ipv6` has no zone).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isIpv6LinkLocal } from './interfaces.js';

export type AddressFamily = 'ipv4' | 'ipv6';

/**
 * - `link-local`: reachable on one link only (IPv4 169.254.0.0/16, RFC 3927; IPv6 fe80::/10, RFC 4291 §2.5.6);
 * - `private`: IPv4 RFC 1918 space, or IPv6 unique-local fc00::/7 (RFC 4193), routed within a site;
 * - `global`: anything else.
 */
export type AddressScope = 'link-local' | 'private' | 'global';

export interface AddressDetail {
  family: AddressFamily;
  address: string;
  scope: AddressScope;
  /** The interface a link-local address was heard on (its zone); absent for every other address. */
  zone?: string;
}

/** `fe80::1%eth0` → its address and zone (empty when it has none; RFC 4007 §11 text form). */
export function splitZone(text: string): { address: string; zone: string } {
  const i = text.indexOf('%');
  return i < 0 ? { address: text, zone: '' } : { address: text.slice(0, i), zone: text.slice(i + 1) };
}

/** The address without its zone (`fe80::1%eth0` → `fe80::1`). */
export function withoutZone(address: string): string {
  const i = address.indexOf('%');
  return i < 0 ? address : address.slice(0, i);
}

/** The zone of a link-local address (`eth0` of `fe80::1%eth0`), or undefined. */
export function zoneOf(ip: string): string | undefined {
  return splitZone(ip).zone || undefined;
}

/** IPv4 private ranges of RFC 1918 §3. */
const IPV4_PRIVATE = /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/;
const IPV4_LINK_LOCAL = /^169\.254\./;
/** fc00::/7 (RFC 4193 §3.1). */
const IPV6_UNIQUE_LOCAL = /^f[cd][0-9a-f]{2}:/i;

/** The inventory's description of one address (internal form, zone included); null when it is no IP address. */
export function describeAddress(internal: string): AddressDetail | null {
  const { address, zone } = splitZone(internal);
  if (isIPv4(address)) {
    const scope: AddressScope = IPV4_LINK_LOCAL.test(address) ? 'link-local' : IPV4_PRIVATE.test(address) ? 'private' : 'global';
    return { family: 'ipv4', address, scope };
  }
  if (!isIPv6(address)) return null;
  if (isIpv6LinkLocal(address)) {
    return { family: 'ipv6', address, scope: 'link-local', ...(zone ? { zone } : {}) };
  }
  return { family: 'ipv6', address, scope: IPV6_UNIQUE_LOCAL.test(address) ? 'private' : 'global' };
}
