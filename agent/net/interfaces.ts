import { networkInterfaces } from 'node:os';
import { agentError } from '../errors.js';
import { inCidr } from './ipv4.js';

/** One local IPv4 interface the scan sends and listens on. */
export interface ScanInterface {
  readonly name: string;
  readonly address: string;
  /** e.g. 198.18.0.1/24 */
  readonly cidr: string;
  /**
   * The interface's IPv6 link-local address with its zone, `fe80::…%eth0` (RFC 4007 §11), when it
   * has one: IPv6 discovery sends from it, to link-local multicast groups on this interface only.
   */
  readonly ipv6LinkLocal?: string;
  /**
   * The interface's unique-local and global IPv6 addresses with their prefix lengths
   * (`fdcc:7a6e:1ab::1/64`), when it has any: addresses in these blocks are its neighbours.
   */
  readonly ipv6Prefixes?: readonly string[];
}

/** The chosen interface whose IPv4 subnet holds `ip` (the one its packets leave by); undefined when none does. */
export function interfaceOnSubnet(interfaces: readonly ScanInterface[], ip: string): ScanInterface | undefined {
  return interfaces.find((i) => inCidr(ip, i.cidr));
}

/** fe80::/10, the IPv6 link-local unicast prefix (RFC 4291 §2.5.6). */
export function isIpv6LinkLocal(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address);
}

/** Every up, non-loopback interface with an IPv4 address (Node lists only interfaces that are up). */
export function listScanInterfaces(): ScanInterface[] {
  const found: ScanInterface[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    const ipv4 = (addresses ?? []).find((a) => a.family === 'IPv4' && !a.internal);
    const linkLocal = (addresses ?? []).find((a) => a.family === 'IPv6' && !a.internal && isIpv6LinkLocal(a.address));
    const prefixes = (addresses ?? []).filter((a) => a.family === 'IPv6' && !a.internal && !isIpv6LinkLocal(a.address) && a.cidr).map((a) => a.cidr as string);
    if (ipv4 && ipv4.cidr) {
      found.push({
        name,
        address: ipv4.address,
        cidr: ipv4.cidr,
        ...(linkLocal ? { ipv6LinkLocal: `${linkLocal.address.split('%')[0]}%${name}` } : {}),
        ...(prefixes.length > 0 ? { ipv6Prefixes: prefixes } : {}),
      });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** True when `name` is an interface of this machine whose IPv4 addresses are all loopback (`lo`). */
export function isLoopbackInterface(name: string): boolean {
  const ipv4 = (networkInterfaces()[name] ?? []).filter((a) => a.family === 'IPv4');
  return ipv4.length > 0 && ipv4.every((a) => a.internal);
}

/** Resolves --interface names; with none given, every usable interface. */
export function chooseInterfaces(requested: readonly string[]): ScanInterface[] {
  const available = listScanInterfaces();
  if (requested.length === 0) {
    if (available.length === 0) throw agentError('CCTV_ERR_NO_INTERFACE');
    return available;
  }
  const usable = available.map((i) => i.name);
  return [...new Set(requested)].map((name) => {
    const match = available.find((i) => i.name === name);
    if (match) return match;
    if (isLoopbackInterface(name)) throw agentError('CCTV_ERR_LOOPBACK_INTERFACE', name, usable);
    throw agentError('CCTV_ERR_UNKNOWN_INTERFACE', name, usable);
  });
}
