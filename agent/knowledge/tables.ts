/**
 * The small tables of the knowledge base: ports to sweep, HTTP pages to ask for, DNS-SD service
 * types to browse, public policies, and the classifier's weights. Each reader takes the
 * schema-checked file and checks what a schema cannot say (an id listed twice…).
 */
import type { PagePurpose } from '../protocols/http-page.js';
import type { CheckedFile } from './read.js';

/** fingerprints/ports.yaml: the ports the connect phase tries. */
export const PORTS_FILE = 'ports.yaml';
/** The active probes a port can call for (`probes` in ports.yaml; see schema/knowledge/ports.schema.json). */
export const ACTIVE_PROBES = ['http', 'tls', 'rtsp'] as const;
export type ActiveProbe = (typeof ACTIVE_PROBES)[number];

export interface PortSpec {
  readonly port: number;
  /** What the port usually carries (`http`, `hikvision-sdk`…). */
  readonly service: string;
  readonly probes: readonly ActiveProbe[];
  /** Tried first on a host nobody heard from, to learn whether it is there at all. */
  readonly hostDiscovery: boolean;
  readonly source: string;
}

export function readPorts(file: CheckedFile<{ ports: (Omit<PortSpec, 'hostDiscovery'> & { hostDiscovery?: boolean })[] }>): readonly PortSpec[] {
  const seen = new Set<number>();
  return file.value.ports.map((p, i) => {
    if (seen.has(p.port)) file.fail(['ports', i, 'port'], `port ${p.port} is listed twice`);
    seen.add(p.port);
    return { ...p, hostDiscovery: p.hostDiscovery ?? false };
  });
}

/** fingerprints/http-probes.yaml: the pages the HTTP probe asks for and the markers it looks for. */
export const HTTP_PROBES_FILE = 'http-probes.yaml';

export interface HttpProbeData {
  readonly paths: readonly { readonly path: string; readonly purpose: PagePurpose; readonly source: string }[];
  readonly markers: readonly { readonly text: string; readonly source: string }[];
}

export function readHttpProbes(file: CheckedFile<HttpProbeData>): HttpProbeData {
  const seen = new Set<string>();
  file.value.paths.forEach((p, i) => {
    if (seen.has(p.path)) file.fail(['paths', i, 'path'], `path ${p.path} is listed twice`);
    seen.add(p.path);
  });
  return file.value;
}

/** fingerprints/mdns-services.yaml: the DNS-SD service types the mDNS discoverer browses. */
export const MDNS_SERVICES_FILE = 'mdns-services.yaml';

/** A DNS-SD service type to browse, e.g. `_http._tcp` = name `http`, protocol `tcp`. */
export interface ServiceType {
  readonly type: string;
  readonly name: string;
  readonly protocol: 'tcp' | 'udp';
}

export function readMdnsServices(file: CheckedFile<{ services: { type: string }[] }>): readonly ServiceType[] {
  const seen = new Set<string>();
  return file.value.services.map(({ type }, i) => {
    if (seen.has(type)) file.fail(['services', i, 'type'], `${type} is listed twice`);
    seen.add(type);
    // The schema's pattern guarantees `_<name>._<tcp|udp>`.
    const [name = '', protocol = ''] = type.slice(1).split('._');
    return { type, name, protocol: protocol as 'tcp' | 'udp' };
  });
}

/** fingerprints/policies.yaml: public policies that concern devices linked to a vendor. */
export const POLICIES_FILE = 'policies.yaml';

export interface Policy {
  readonly id: string;
  readonly name: string;
  /** Linked vendors (keys of vendors.yaml). */
  readonly vendors: readonly string[];
  readonly scope: string;
  readonly source: string;
}

export function readPolicies(file: CheckedFile<{ policies: Policy[] }>, linkedVendors: readonly string[]): readonly Policy[] {
  const seen = new Set<string>();
  file.value.policies.forEach((p, i) => {
    if (seen.has(p.id)) file.fail(['policies', i, 'id'], `policy "${p.id}" is listed twice`);
    seen.add(p.id);
    p.vendors.forEach((v, j) => {
      if (!linkedVendors.includes(v)) file.fail(['policies', i, 'vendors', j], `"${v}" is not a linked vendor of vendors.yaml (${linkedVendors.join(', ')})`);
    });
  });
  return file.value.policies;
}

/** fingerprints/classification.yaml: how much the classifier trusts a claim, by vendor relation. */
export const CLASSIFICATION_FILE = 'classification.yaml';

export interface ClassificationWeights {
  /** Claim (platform/brand) → vendor relation → multiplier of a rule's confidence. */
  readonly relationWeight: Readonly<Record<'platform' | 'brand', Readonly<Record<'direct' | 'subsidiary' | 'oem' | 'none', number>>>>;
  /** Multiplier for a vendor whose link has only weak public support (`uncertain: true`). */
  readonly uncertainWeight: number;
  /** Multiplier for a rival group's brand claims when they count as conflict. */
  readonly rivalBrandWeight: number;
}

/** fingerprints/lockout.yaml: failed-login lockout limits of each credentialed mechanism. */
export const LOCKOUT_FILE = 'lockout.yaml';

export interface LockoutLimit {
  /** The mechanism, as observations name it (`vendorapi.name`): `hikvision-isapi`, `dahua-cgi`. */
  readonly name: string;
  /** Failed logins that lock the device. */
  readonly failures: number;
  /** How long the lock lasts. */
  readonly lockSeconds: number;
  readonly source: string;
}

export function readLockout(file: CheckedFile<{ mechanisms: LockoutLimit[] }>): ReadonlyMap<string, LockoutLimit> {
  const limits = new Map<string, LockoutLimit>();
  file.value.mechanisms.forEach((m, i) => {
    if (limits.has(m.name)) file.fail(['mechanisms', i, 'name'], `${m.name} is listed twice`);
    limits.set(m.name, m);
  });
  return limits;
}
