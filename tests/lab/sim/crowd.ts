/**
 * The crowd: many simulated devices in one network namespace, served by a few shared processes
 * (scripts/lab.sh `crowd-up N`, issue 10 "a crowd lab"). Each device is a copy of a lab profile
 * (tests/lab/profiles) with its own address, MAC (the profile's OUI, then the device number),
 * serial and UUIDs, on a macvlan interface of its own; a proxy-ARP segment adds addresses that all
 * answer with one MAC.
 *
 *   node crowd.js plan --count N --out PLAN.json    prints `IP MAC IFACE` per address for lab.sh
 *                                                   and writes the plan (with each device's truth)
 *   node crowd.js serve --plan PLAN.json --shard I/K --ready-file FILE
 *                                                   serves the devices whose number is I modulo K
 *   node crowd.js check --plan PLAN.json            run in the scanner's namespace once the crowd
 *                                                   is up: exits 1 unless a unicast WS-Discovery
 *                                                   Probe is answered by its target alone (checkCrowd)
 *
 * Every socket of a device binds to its own address; multicast (WS-Discovery, SADP, DHIP) is heard
 * once per process and answered by every device (udp-service.ts GroupHub). SSDP and mDNS are left
 * out of the copies: their responders own per-device multicast sockets that cannot share a port.
 */
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { HttpHost } from './http-host.js';
import { createLog, type SimLog } from './log.js';
import { loadProfiles, type LabProfile, type ProfileTruth } from './profile.js';
import { RESPONDERS } from './responders/index.js';
import type { RunningResponder } from './responders/types.js';
import { GroupHub } from './udp-service.js';

/** 198.18.4.0/22: inside RFC 2544's benchmarking range like the rest of the lab, beside its /24. */
export const CROWD_SUBNET = '198.18.4.0/22';
const SUBNET_BASE = (198 << 24) | (18 << 16) | (4 << 8);
const SUBNET_SIZE = 1024;
export const CROWD_SCANNER = { ip: '198.18.4.1', mac: '02:00:00:00:04:01' };
/** Addresses of the proxy-ARP segment, taken from the top of the subnet. */
export const DEFAULT_PROXY_ADDRESSES = 20;

/**
 * The profiles copied into the crowd, in turn: Hikvision, its OEM and subsidiary, Dahua and its
 * OEM, other camera makers, NVRs, and hosts that are no camera. The hostile, tarpit, two-NIC and
 * proxy-ARP profiles are left out (the proxy-ARP segment is built below).
 */
export const CROWD_TEMPLATES = ['hikvision', 'dahua', 'lts', 'axis', 'amcrest', 'hiknvr', 'uniview', 'ezviz', 'printer', 'hikold', 'hanwha', 'dahuanvr', 'nas', 'hikoui', 'maconly'];
const PROXY_TEMPLATE = 'proxyarp';
/** Profile keys whose responders cannot be shared by many devices in one namespace (see above). */
const LEFT_OUT = ['ssdp', 'mdns'];

export interface CrowdDevice {
  ip: string;
  mac: string;
  /** The macvlan interface in the crowd namespace. */
  iface: string;
  template: string;
  kind: LabProfile['kind'];
  /** True for the proxy-ARP segment: the MAC is shared and names no maker. */
  macShared: boolean;
  truth: Pick<ProfileTruth, 'maker' | 'brand' | 'linkedVendor' | 'relation'> & { model: string | null; serial: string | null };
}

export interface CrowdPlan {
  subnet: string;
  scanner: { ip: string; mac: string };
  /** The interface address on which each process hears multicast (the first device's). */
  anchorIp: string;
  devices: CrowdDevice[];
}

function ipOf(offset: number): string {
  const n = SUBNET_BASE + offset;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The profile's OUI, then 0xc0 and the device number: unique in the crowd, never a lab profile's MAC. */
function crowdMac(oui: string, number: number): string {
  const tail = [0xc0 | ((number >> 16) & 0x3f), (number >> 8) & 255, number & 255];
  return `${oui.slice(0, 8)}:${tail.map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

const SERIAL_KEYS = /^(serial|serialnumber|devicesn|serialno|sn)$/i;

function serialsOf(v: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => serialsOf(x, out));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (SERIAL_KEYS.test(k) && typeof x === 'string' && x.length >= 6) out.add(x);
      else serialsOf(x, out);
    }
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The spellings of a MAC a profile may hold: colon, dash or bare, lower or upper case. */
function macSpellings(mac: string): Array<[string, (m: string) => string]> {
  const forms: Array<(m: string) => string> = [(m) => m, (m) => m.replaceAll(':', '-'), (m) => m.replaceAll(':', '')];
  return forms.flatMap((f) => [
    [f(mac), f] as [string, (m: string) => string],
    [f(mac).toUpperCase(), (m: string) => f(m).toUpperCase()] as [string, (m: string) => string],
  ]);
}

/**
 * A copy of `template` as device `number` at `ip`/`mac`: every spelling of the template's address
 * and MAC replaced, each serial given the device number as its last five characters (same length
 * and shape), each UUID ending in the device's MAC (as Hikvision's do), the shared-port protocols
 * left out, and IPv6 too: the crowd is an IPv4 segment, and a copy cannot own the template's IPv6
 * addresses (its responders would join FF02::C on interfaces that have none).
 */
export function crowdProfile(template: LabProfile, number: number, ip: string, mac: string): LabProfile {
  let json = JSON.stringify({ ...template, aliases: undefined, nics: undefined, ipv6: undefined, ...Object.fromEntries(LEFT_OUT.map((k) => [k, undefined])) });
  json = json.replace(new RegExp(`${escapeRe(template.ip)}(?!\\d)`, 'g'), ip);
  for (const [spelling, form] of macSpellings(template.mac)) json = json.replaceAll(spelling, form(mac));
  for (const serial of serialsOf(template, new Set())) json = json.replaceAll(serial, serial.slice(0, -5) + String(number).padStart(5, '0'));
  const macHex = mac.replaceAll(':', '');
  json = json.replace(/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/gi, (_m, head: string) => head + macHex);
  const copy = JSON.parse(json) as LabProfile;
  // The certificate is a file of tests/lab/certs named after the template's address: kept as it is.
  if (isRecord(template.tls) && isRecord(copy.tls)) copy.tls.certificate = template.tls.certificate;
  return { ...copy, name: `${template.name}-${number}` };
}

export function makePlan(templates: LabProfile[], count: number, proxyAddresses: number): CrowdPlan {
  const usable = SUBNET_SIZE - 3; // network, broadcast and the scanner
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(proxyAddresses) || proxyAddresses < 0 || count + proxyAddresses > usable) {
    throw new Error(`a crowd holds 1 to ${usable} addresses in ${CROWD_SUBNET}: ${count} devices and ${proxyAddresses} proxy-ARP addresses do not fit`);
  }
  const byName = new Map(templates.map((t) => [t.name, t]));
  const devices: CrowdDevice[] = [];
  const entry = (t: LabProfile, p: LabProfile, iface: string, macShared: boolean): CrowdDevice => ({
    ip: p.ip,
    mac: p.mac,
    iface,
    template: t.name,
    kind: t.kind,
    macShared,
    truth: {
      maker: t.truth.maker,
      brand: t.truth.brand,
      linkedVendor: macShared ? null : t.truth.linkedVendor,
      relation: macShared ? null : t.truth.relation,
      model: p.truth.identity?.model ?? null,
      serial: p.truth.identity?.serial ?? null,
    },
  });
  for (let i = 0; i < count; i++) {
    const name = CROWD_TEMPLATES[i % CROWD_TEMPLATES.length] ?? '';
    const t = byName.get(name);
    if (!t) throw new Error(`crowd template ${name} missing from the profiles`);
    const ip = ipOf(2 + i);
    devices.push(entry(t, crowdProfile(t, i, ip, crowdMac(t.mac, i)), `c${i}`, false));
  }
  const proxy = byName.get(PROXY_TEMPLATE);
  if (!proxy) throw new Error(`crowd template ${PROXY_TEMPLATE} missing from the profiles`);
  const proxyMac = crowdMac(proxy.mac, count);
  for (let k = 0; k < proxyAddresses; k++) {
    const ip = ipOf(SUBNET_SIZE - 2 - k);
    devices.push(entry(proxy, crowdProfile(proxy, count + k, ip, proxyMac), 'cp', true));
  }
  return { subnet: CROWD_SUBNET, scanner: CROWD_SCANNER, anchorIp: ipOf(2), devices };
}

/** Warnings only (a crowd's info lines would be thousands a scan); CROWD_VERBOSE=1 logs everything. */
function crowdLog(name: string): SimLog {
  const full = createLog(name);
  if (process.env.CROWD_VERBOSE === '1') return full;
  const quiet = (log: SimLog): SimLog => ({ info: () => undefined, warn: (m) => log.warn(m), child: (m) => quiet(log.child(m)) });
  return quiet(full);
}

function readPlan(planFile: string): CrowdPlan {
  return JSON.parse(readFileSync(planFile, 'utf8')) as CrowdPlan;
}

function profilesByName(profilesDir: string): Map<string, LabProfile> {
  return new Map(loadProfiles(profilesDir).map((t) => [t.name, t]));
}

async function serve(planFile: string, shard: number, shards: number, readyFile: string | undefined, profilesDir: string): Promise<void> {
  const plan = readPlan(planFile);
  const templates = profilesByName(profilesDir);
  const log = crowdLog(`crowd-${shard}`);
  process.on('uncaughtException', (e) => log.warn(`uncaught exception (ignored): ${e.stack ?? String(e)}`));
  process.on('unhandledRejection', (e) => log.warn(`unhandled rejection (ignored): ${String(e)}`));
  const hub = new GroupHub(plan.anchorIp, log.child('hub'));
  const running: RunningResponder[] = [];
  const hosts: HttpHost[] = [];
  const stop = async (signal: string): Promise<void> => {
    log.warn(`${signal}: stopping`);
    setTimeout(() => process.exit(0), 3000).unref();
    if (readyFile) rmSync(readyFile, { force: true });
    await Promise.allSettled([...running.map((r) => r.close()), ...hosts.map((h) => h.close()), hub.close()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let served = 0;
  for (const [number, device] of plan.devices.entries()) {
    if (number % shards !== shard) continue;
    const template = templates.get(device.template);
    if (!template) throw new Error(`no profile ${device.template}`);
    const profile = crowdProfile(template, number, device.ip, device.mac);
    const deviceLog = log.child(profile.name);
    const http = new HttpHost(deviceLog);
    for (const responder of RESPONDERS) {
      if (profile[responder.key] === undefined) continue;
      running.push(await responder.start({ profile, log: deviceLog, http, bindAddress: device.ip, groupHub: hub }));
    }
    await http.listen(device.ip);
    hosts.push(http);
    served++;
  }
  setInterval(() => undefined, 2 ** 31 - 1);
  if (readyFile) {
    const tmp = `${readyFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, shard, shards, devices: served, at: new Date().toISOString() }) + '\n');
    renameSync(tmp, readyFile);
  }
  process.stdout.write(`READY crowd shard ${shard}/${shards}: ${served} devices pid=${process.pid}\n`);
}

/** How long checkCrowd listens after each Probe: the profiles' replies wait at most 100 ms (maxDelayMs). */
const CHECK_LISTEN_MS = 600;

/**
 * The crowd answers a unicast WS-Discovery Probe as devices on a wire do: the device at the address
 * once, if it has the service, and nobody else. A crowd whose shared group socket also took unicast
 * for addresses without a socket of their own had every device of a process answer each such Probe,
 * some 76,000 replies to one scan of the /22 (BENCHMARKS.md "The crowd's WS-Discovery flood"). Asks
 * the first device with WS-Discovery and the first without, from the scanner's address; returns what
 * is wrong, or nothing.
 */
async function checkCrowd(plan: CrowdPlan, profiles: ReadonlyMap<string, LabProfile>): Promise<string[]> {
  const withService = plan.devices.find((d) => !d.macShared && profiles.get(d.template)?.wsDiscovery !== undefined);
  const without = plan.devices.find((d) => !d.macShared && profiles.get(d.template)?.wsDiscovery === undefined);
  const problems: string[] = [];
  for (const [device, expected] of [[withService, 1], [without, 0]] as const) {
    if (!device) continue;
    const repliers = await unicastProbe(plan.scanner.ip, device.ip);
    const others = repliers.filter((ip) => ip !== device.ip);
    const own = repliers.length - others.length;
    if (own !== expected || others.length > 0) {
      problems.push(`a unicast WS-Discovery Probe to ${device.ip} (${device.template}) got ${own} replies from it (expected ${expected}) and ${others.length} from other addresses${others.length > 0 ? ` (${[...new Set(others)].slice(0, 5).join(', ')}…)` : ''}`);
    }
  }
  return problems;
}

/** Sends one WS-Discovery Probe (no Types: every service matches) to `to`:3702 from `from`; the addresses that answered, once per reply. */
async function unicastProbe(from: string, to: string): Promise<string[]> {
  const socket = createSocket({ type: 'udp4' });
  const repliers: string[] = [];
  socket.on('message', (_msg, rinfo) => repliers.push(rinfo.address));
  await new Promise<void>((resolve) => socket.bind(0, from, () => resolve()));
  const probe =
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">' +
    `<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID>` +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><d:Probe/></s:Body></s:Envelope>';
  await new Promise<void>((resolve, reject) => socket.send(Buffer.from(probe), 3702, to, (e) => (e ? reject(e) : resolve())));
  await new Promise((resolve) => setTimeout(resolve, CHECK_LISTEN_MS));
  socket.close();
  return repliers;
}

function usage(): never {
  process.stderr.write('usage: crowd.js plan --count N [--proxy P] --out PLAN.json | serve --plan PLAN.json --shard I/K [--ready-file FILE] | check --plan PLAN.json\n');
  process.exit(2);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const opts = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const [key, value] = [rest[i] ?? '', rest[i + 1]];
    if (!key.startsWith('--') || value === undefined) usage();
    opts.set(key.slice(2), value);
  }
  const profilesDir = opts.get('profiles') ?? 'tests/lab/profiles';
  if (command === 'plan') {
    const out = opts.get('out') ?? usage();
    const plan = makePlan(loadProfiles(profilesDir), Number(opts.get('count') ?? usage()), Number(opts.get('proxy') ?? DEFAULT_PROXY_ADDRESSES));
    writeFileSync(out, JSON.stringify(plan, null, 1) + '\n');
    process.stdout.write(plan.devices.map((d) => `${d.ip} ${d.mac} ${d.iface}\n`).join(''));
  } else if (command === 'serve') {
    const m = /^(\d+)\/(\d+)$/.exec(opts.get('shard') ?? '0/1');
    if (!m || Number(m[1]) >= Number(m[2])) usage();
    await serve(opts.get('plan') ?? usage(), Number(m[1]), Number(m[2]), opts.get('ready-file'), profilesDir);
  } else if (command === 'check') {
    const problems = await checkCrowd(readPlan(opts.get('plan') ?? usage()), profilesByName(profilesDir));
    for (const problem of problems) process.stderr.write(`crowd check: ${problem}\n`);
    process.exit(problems.length > 0 ? 1 : 0);
  } else usage();
}

main().catch((e: unknown) => {
  process.stderr.write(`crowd: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
