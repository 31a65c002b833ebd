/**
 * Device profiles of the lab (tests/lab/profiles/NAME.json): one JSON file per simulated device.
 *
 * The file name is the device name: the lab puts it in namespace `cctvlab-NAME`, on veth
 * `v-NAME` (so NAME is at most 13 characters of [a-z0-9-]). Each top-level protocol key
 * (`wsDiscovery`, `onvif`, later `ssdp`, `mdns`, `sadp`, `dhip`, `http`, `rtsp`, `tls`) turns on
 * the responder of the same name (see responders/index.ts); a profile without the key does not
 * speak that protocol, exactly like a device that does not implement it.
 *
 * This module has no dependencies but the agent's IPv4 helpers, so that tests (lab-helpers.ts) can
 * import it too.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inCidr } from '../../../agent/net/ipv4.js';

export const LAB_SUBNET_PREFIX = '198.18.0.';
/**
 * The lab's unique-local IPv6 prefix (RFC 4193 §3.1: fd00::/8, a 40-bit global ID, here the
 * invented 0xcc7a6e01ab, then a subnet ID of 0): fdcc:7a6e:1ab::/64. The scanner holds ::1.
 */
export const LAB_ULA_PREFIX = 'fdcc:7a6e:1ab::';
const ULA_LAB_RE = /^fdcc:7a6e:1ab::([0-9a-f]{1,4})$/;
export const NAME_RE = /^[a-z0-9][a-z0-9-]{0,12}$/;
const IPV4_LAB_RE = /^198\.18\.0\.(\d{1,3})$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** What the device really is: the answer the agent should reach (for tests). */
export interface ProfileTruth {
  /** Maker of the hardware/firmware, lower case (e.g. `hikvision` for an LTS camera). */
  maker: string;
  /** Brand on the label (e.g. `lts`). */
  brand: string;
  linkedVendor: 'hikvision' | 'dahua' | null;
  relation: 'direct' | 'oem' | 'subsidiary' | null;
  /**
   * The identity a default (credential-less) scan must report: each value exactly, or null where
   * no unauthenticated route of this profile reveals it. `manufacturer` and `brand` are display
   * names from fingerprints/vendors.yaml.
   */
  identity?: TruthIdentity;
  /** The CVE flags a default scan must raise (fingerprints/cves.yaml applied to `identity`): exactly this set. */
  vulnerabilities?: TruthVulnerability[];
  /** Upper bound of classification.confidence (for devices seen through weak evidence only, e.g. an OUI). */
  maxConfidence?: number;
  /** What a scan with the profile's `onvif.credentials` in a credentials file must report instead. */
  withCredentials?: { identity: TruthIdentity; vulnerabilities: TruthVulnerability[] };
}

export interface TruthIdentity {
  manufacturer: string | null;
  brand: string | null;
  model: string | null;
  firmware: string | null;
  serial: string | null;
  deviceType: string | null;
}

export interface TruthVulnerability {
  id: string;
  status: 'affected' | 'possibly-affected' | 'cannot-tell';
}

export interface WsDiscoveryProfile {
  /** EndpointReference Address, `urn:uuid:…` (stable across restarts, like a real device). */
  endpointReference: string;
  /** QNames, e.g. `dn:NetworkVideoTransmitter`. The prefix must be in `namespaces` or the defaults. */
  types: string[];
  /** Extra prefix → namespace URI declarations for the Types QNames. */
  namespaces?: Record<string, string>;
  /** Sent space-separated, as given (already URL-encoded, e.g. `name/HIKVISION%20DS-2CD2143G2-I`). */
  scopes: string[];
  xaddrs: string[];
  metadataVersion: number;
  /**
   * Which probes get an answer: a list of local type names (a probe matches when its Types are
   * empty or contain one of them, whatever the prefix), or `*` to answer every probe.
   */
  answerTypes: string[] | '*';
  /** Real devices wait a random 0..APP_MAX_DELAY before a ProbeMatches; default 0. */
  maxDelayMs?: number;
}

export interface DeviceInformation {
  manufacturer: string;
  model: string;
  firmwareVersion: string;
  serialNumber: string;
  hardwareId: string;
}

export type OnvifUnauthorized =
  | {
      /** Hikvision: HTTP 401 with `WWW-Authenticate: Digest qop="auth", realm=…, nonce=…, stale="FALSE"`. */
      style: 'digest-401';
      realm: string;
      /** One WWW-Authenticate header per algorithm, in this order. Default ['MD5'] (no algorithm= parameter). */
      algorithms?: Array<'MD5' | 'SHA-256'>;
      /** text/html body of the 401 answer. */
      body?: string;
    }
  | {
      /** ONVIF Core §5.12: SOAP 1.2 Fault, Code env:Sender, Subcode ter:NotAuthorized. */
      style: 'soap-fault';
      httpStatus: 400 | 500;
      reason?: string;
    };

export interface OnvifProfile {
  /** Default 80. */
  port?: number;
  /** Default /onvif/device_service. */
  path?: string;
  /** HTTP `Server:` header; omitted when absent (Dahua sends none). */
  serverHeader?: string;
  dateTimeType: 'NTP' | 'Manual';
  /** Added to the real clock in every date the device reports (simulates a skewed camera). */
  clockOffsetSeconds: number;
  daylightSavings: boolean;
  /** POSIX TZ string as the device reports it, and the offset it means (east of UTC, seconds). */
  timeZone: { tz: string; utcOffsetSeconds: number };
  /** Operations answered without credentials; every other operation needs them. */
  publicOperations: string[];
  /** How an operation that needs credentials is refused. */
  unauthorized: OnvifUnauthorized;
  /** Lab-only credentials accepted by HTTP Digest and WS-Security UsernameToken. */
  credentials?: { username: string; password: string };
  deviceInformation: DeviceInformation;
}

/**
 * IPv6 of a device. Every lab interface has the link-local address the kernel derives from its MAC
 * (modified EUI-64, RFC 4291 §2.5.1 and Appendix A); a profile with this key also speaks its
 * multicast discovery (WS-Discovery) over IPv6, on FF02::C, from that link-local address.
 */
export interface LabIpv6 {
  /** A unique-local address in LAB_ULA_PREFIX, given to eth0 as a /64 besides the link-local one. */
  ula?: string;
  /** XAddrs announced in WS-Discovery replies sent over IPv6 (default: the profile's own). */
  xaddrs?: string[];
}

/** A further network interface of a device (scripts/lab.sh makes it `ethN`, with its own veth on the bridge). */
export interface LabNic {
  ip: string;
  mac: string;
}

export interface LabMisaddressing {
  subnet: string;
  gateway: string;
}

/** The lab's subnet, which a misaddressed device's address must lie outside of. */
export const LAB_SUBNET_CIDR = '198.18.0.0/24';

export interface LabProfile {
  /** = file basename. */
  name: string;
  description: string;
  /** Where each value comes from (a URL or `owner/repo path@commit`, or "invented"). */
  source: string[];
  kind: 'camera' | 'nvr' | 'printer' | 'other';
  ip: string;
  mac: string;
  /**
   * More addresses on the same interface (so behind the same MAC), each answering like `ip`: a
   * proxy-ARP segment, where one router's MAC answers ARP for many hosts (RFC 1027). Each address is
   * a device of its own, recorded with the shared MAC (tests/lab/README.md).
   */
  aliases?: string[];
  /** More interfaces of the same device, each with its own address and MAC (a two-NIC camera): one device. */
  nics?: LabNic[];
  /**
   * A device on the lab bridge whose `ip` lies outside the lab subnet (a factory default such as
   * 192.168.1.64): `ip`/24 on eth0 and an on-link route to the lab subnet, so it answers the scanner
   * from its foreign address (scripts/lab.sh). What the agent must flag: the subnet it needs and the
   * gateway it claims.
   */
  misaddressed?: LabMisaddressing;
  truth: ProfileTruth;
  /**
   * IPv6 (see LabIpv6). An IPv6-only device has its link-local address as `ip` (it must be the
   * EUI-64 address of `mac`, which the kernel gives it) and no IPv4 address at all.
   */
  ipv6?: LabIpv6;
  wsDiscovery?: WsDiscoveryProfile;
  onvif?: OnvifProfile;
  /** Keys of protocols added by later issues are accepted and ignored until a responder exists. */
  [protocol: string]: unknown;
}

export class ProfileError extends Error {
  override name = 'ProfileError';
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(o: Record<string, unknown>, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw new ProfileError(`${where}.${k}: expected a non-empty string`);
  return v;
}
function num(o: Record<string, unknown>, k: string, where: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProfileError(`${where}.${k}: expected a number`);
  return v;
}
function strArr(o: Record<string, unknown>, k: string, where: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new ProfileError(`${where}.${k}: expected an array of strings`);
  }
  return v as string[];
}

function checkWsDiscovery(v: unknown, where: string): WsDiscoveryProfile {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  const epr = str(v, 'endpointReference', where);
  if (!/^urn:uuid:[0-9a-f-]{36}$/i.test(epr)) throw new ProfileError(`${where}.endpointReference: expected urn:uuid:<uuid>`);
  const types = strArr(v, 'types', where);
  for (const t of types) {
    if (!/^[A-Za-z_][\w.-]*:[A-Za-z_][\w.-]*$/.test(t)) throw new ProfileError(`${where}.types: '${t}' is not a prefixed QName`);
  }
  if (v.namespaces !== undefined && !isObj(v.namespaces)) throw new ProfileError(`${where}.namespaces: expected an object`);
  strArr(v, 'scopes', where);
  const xaddrs = strArr(v, 'xaddrs', where);
  for (const x of xaddrs) {
    try {
      new URL(x);
    } catch {
      throw new ProfileError(`${where}.xaddrs: '${x}' is not a URL`);
    }
  }
  num(v, 'metadataVersion', where);
  if (v.answerTypes !== '*') strArr(v, 'answerTypes', where);
  if (v.maxDelayMs !== undefined) num(v, 'maxDelayMs', where);
  return v as unknown as WsDiscoveryProfile;
}

function checkOnvif(v: unknown, where: string): OnvifProfile {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (v.port !== undefined) num(v, 'port', where);
  if (v.path !== undefined) str(v, 'path', where);
  if (v.dateTimeType !== 'NTP' && v.dateTimeType !== 'Manual') throw new ProfileError(`${where}.dateTimeType: NTP or Manual`);
  num(v, 'clockOffsetSeconds', where);
  if (typeof v.daylightSavings !== 'boolean') throw new ProfileError(`${where}.daylightSavings: expected a boolean`);
  if (!isObj(v.timeZone)) throw new ProfileError(`${where}.timeZone: expected {tz, utcOffsetSeconds}`);
  str(v.timeZone, 'tz', `${where}.timeZone`);
  num(v.timeZone, 'utcOffsetSeconds', `${where}.timeZone`);
  strArr(v, 'publicOperations', where);
  const u = v.unauthorized;
  if (!isObj(u)) throw new ProfileError(`${where}.unauthorized: expected an object`);
  if (u.style === 'digest-401') {
    str(u, 'realm', `${where}.unauthorized`);
  } else if (u.style === 'soap-fault') {
    if (u.httpStatus !== 400 && u.httpStatus !== 500) throw new ProfileError(`${where}.unauthorized.httpStatus: 400 or 500`);
  } else {
    throw new ProfileError(`${where}.unauthorized.style: digest-401 or soap-fault`);
  }
  if (v.credentials !== undefined) {
    if (!isObj(v.credentials)) throw new ProfileError(`${where}.credentials: expected an object`);
    str(v.credentials, 'username', `${where}.credentials`);
    str(v.credentials, 'password', `${where}.credentials`);
  }
  const di = v.deviceInformation;
  if (!isObj(di)) throw new ProfileError(`${where}.deviceInformation: expected an object`);
  for (const k of ['manufacturer', 'model', 'firmwareVersion', 'serialNumber', 'hardwareId']) {
    if (typeof di[k] !== 'string') throw new ProfileError(`${where}.deviceInformation.${k}: expected a string`);
  }
  return v as unknown as OnvifProfile;
}

function checkLabIp(ip: string, where: string): void {
  const m = IPV4_LAB_RE.exec(ip);
  const oct = m ? Number(m[1]) : NaN;
  if (!(oct >= 2 && oct <= 254)) throw new ProfileError(`${where}: ${ip} must be 198.18.0.2 … 198.18.0.254 (198.18.0.1 is the scanner)`);
}

/**
 * A misaddressed device: its ip a private address outside the lab subnet (RFC 1918 192.168.0.0/16,
 * where the vendors' factory defaults lie), inside the `subnet` it names, with a gateway there.
 */
function checkMisaddressed(v: unknown, ip: string, where: string): void {
  if (!isObj(v)) throw new ProfileError(`${where}: expected {subnet, gateway}`);
  const subnet = str(v, 'subnet', where);
  const gateway = str(v, 'gateway', where);
  if (!inCidr(ip, '192.168.0.0/16') || inCidr(ip, LAB_SUBNET_CIDR)) throw new ProfileError(`${where}: the ip ${ip} of a misaddressed device must be in 192.168.0.0/16, outside the lab subnet`);
  if (!/^\d{1,3}(\.\d{1,3}){3}\/24$/.test(subnet) || !inCidr(ip, subnet)) throw new ProfileError(`${where}.subnet: expected the /24 holding ${ip} (lab.sh gives it ip/24)`);
  if (!inCidr(gateway, subnet)) throw new ProfileError(`${where}.gateway: expected an address in ${subnet}`);
}

/**
 * The link-local address Linux gives an interface with this MAC (addr_gen_mode eui64, the default):
 * fe80::/64 plus the modified EUI-64 interface identifier, the MAC with ff:fe in the middle and the
 * universal/local bit (0x02 of the first byte) inverted (RFC 4291 §2.5.1, Appendix A).
 */
export function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const bytes = [(b[0] as number) ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]] as number[];
  const groups = [0, 2, 4, 6].map((i) => (((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  // RFC 5952 §4.2: leading zero groups of the identifier join the prefix's run of zeros (`::`);
  // the ff:fe in the middle keeps the identifier from ending in one.
  while (groups[0] === '0') groups.shift();
  return `fe80::${groups.join(':')}`;
}

/** True for a device with no IPv4 address (its `ip` is its link-local IPv6 address). */
export function isIpv6Only(p: Pick<LabProfile, 'ip'>): boolean {
  return p.ip.includes(':');
}

function checkIpv6(v: unknown, where: string): LabIpv6 {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (v.ula !== undefined) {
    const m = ULA_LAB_RE.exec(str(v, 'ula', where));
    const host = m ? parseInt(m[1] as string, 16) : NaN;
    if (!(host >= 2)) throw new ProfileError(`${where}.ula: expected ${LAB_ULA_PREFIX}N with N from 2 (${LAB_ULA_PREFIX}1 is the scanner)`);
  }
  if (v.xaddrs !== undefined) strArr(v, 'xaddrs', where);
  return v as LabIpv6;
}

/** Interface names eth1…eth9; the bridge side is `vK-NAME`, which must fit IFNAMSIZ (15 characters). */
const MAX_NICS = 9;
const MAX_NIC_DEVICE_NAME = 12;

function checkNics(v: unknown, name: string, where: string): void {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_NICS) throw new ProfileError(`${where}: expected 1 to ${MAX_NICS} {ip, mac}`);
  if (name.length > MAX_NIC_DEVICE_NAME) throw new ProfileError(`${where}: a device with more interfaces needs a name of at most ${MAX_NIC_DEVICE_NAME} characters`);
  v.forEach((nic: unknown, i: number) => {
    if (!isObj(nic)) throw new ProfileError(`${where}[${i}]: expected {ip, mac}`);
    checkLabIp(str(nic, 'ip', `${where}[${i}]`), `${where}[${i}].ip`);
    if (!MAC_RE.test(str(nic, 'mac', `${where}[${i}]`))) throw new ProfileError(`${where}[${i}].mac: lower-case colon form expected`);
  });
}

/** Every address a profile puts on the lab: its ip, then its aliases, then its other interfaces'. */
export function profileAddresses(p: LabProfile): string[] {
  return [p.ip, ...(p.aliases ?? []), ...(p.nics ?? []).map((n) => n.ip), ...(p.ipv6?.ula ? [p.ipv6.ula] : [])];
}

/** Every MAC a profile puts on the lab: its own, then its other interfaces'. */
export function profileMacs(p: LabProfile): string[] {
  return [p.mac, ...(p.nics ?? []).map((n) => n.mac)];
}

/** Validates a parsed profile; `name` is the file's basename. Throws ProfileError. */
export function checkProfile(raw: unknown, name: string): LabProfile {
  const where = `profile ${name}`;
  if (!NAME_RE.test(name)) throw new ProfileError(`${where}: file name must match ${NAME_RE}`);
  if (!isObj(raw)) throw new ProfileError(`${where}: expected a JSON object`);
  if (raw.name !== name) throw new ProfileError(`${where}: "name" must equal the file name (${name})`);
  str(raw, 'description', where);
  const source = raw.source;
  if (!(typeof source === 'string' || (Array.isArray(source) && source.every((s) => typeof s === 'string')))) {
    throw new ProfileError(`${where}.source: expected a string or an array of strings`);
  }
  if (!['camera', 'nvr', 'printer', 'other'].includes(String(raw.kind))) throw new ProfileError(`${where}.kind: unknown kind`);
  const ip = str(raw, 'ip', where);
  const mac = str(raw, 'mac', where);
  if (!MAC_RE.test(mac)) throw new ProfileError(`${where}.mac: lower-case colon form expected`);
  if (raw.ipv6 !== undefined) checkIpv6(raw.ipv6, `${where}.ipv6`);
  if (isIpv6Only({ ip })) {
    if (raw.ipv6 === undefined) throw new ProfileError(`${where}.ip: an IPv6 address needs the ipv6 key (an IPv6-only device)`);
    if (ip !== eui64LinkLocal(mac)) throw new ProfileError(`${where}.ip: an IPv6-only device's ip must be its link-local address ${eui64LinkLocal(mac)}`);
    if (raw.aliases !== undefined || raw.nics !== undefined) throw new ProfileError(`${where}: an IPv6-only device has no aliases or nics`);
  } else if (raw.misaddressed === undefined) {
    checkLabIp(ip, `${where}.ip`);
  } else {
    checkMisaddressed(raw.misaddressed, ip, `${where}.misaddressed`);
  }
  if (raw.aliases !== undefined) for (const alias of strArr(raw, 'aliases', where)) checkLabIp(alias, `${where}.aliases`);
  if (raw.nics !== undefined) checkNics(raw.nics, name, `${where}.nics`);
  if (!isObj(raw.truth)) throw new ProfileError(`${where}.truth: expected an object`);
  if (raw.wsDiscovery !== undefined) checkWsDiscovery(raw.wsDiscovery, `${where}.wsDiscovery`);
  if (raw.onvif !== undefined) checkOnvif(raw.onvif, `${where}.onvif`);
  const p = raw as unknown as LabProfile;
  if (typeof source === 'string') p.source = [source];
  return p;
}

export function loadProfile(file: string): LabProfile {
  const name = basename(file).replace(/\.json$/, '');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ProfileError(`profile ${name}: cannot read ${file}: ${(e as Error).message}`);
  }
  return checkProfile(raw, name);
}

/**
 * Two misaddressed devices on the same foreign address: cameras unboxed onto one segment all keep
 * their maker's factory default (each in its own namespace, so the lab holds both; the scanner has
 * no route to that address and never sends to it).
 */
function onOneFactoryDefault(a: LabProfile, b: LabProfile): boolean {
  return a.misaddressed !== undefined && b.misaddressed !== undefined && a.ip === b.ip;
}

/** Every profile of a directory, sorted by name; checks that names, MACs and IPs are unique (but see onOneFactoryDefault). */
export function loadProfiles(dir: string): LabProfile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const profiles = files.map((f) => loadProfile(join(dir, f)));
  for (const [key, valuesOf] of [['ip', profileAddresses], ['mac', profileMacs]] as const) {
    const seen = new Map<string, LabProfile>();
    for (const p of profiles) {
      for (const value of valuesOf(p)) {
        const other = seen.get(value);
        if (other && !(key === 'ip' && onOneFactoryDefault(other, p))) throw new ProfileError(`profiles ${other.name} and ${p.name} share ${key} ${value}`);
        seen.set(value, p);
      }
    }
  }
  return profiles;
}
