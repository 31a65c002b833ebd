/**
 * ONVIF device service (ONVIF Core Specification §8, devicemgmt.wsdl), phase 'probe'.
 *
 * Where: at the XAddr a device announced over WS-Discovery, but only an XAddr on the address that
 * answered (a reply cannot point the agent at another host); and, for hosts active probes may
 * touch that announced no usable XAddr, at /onvif/device_service on their open web ports (the port
 * sweep's `port.probes` includes `http`; HTTPS when it includes `tls`), in port order, until one
 * answers GetSystemDateAndTime in SOAP. A guess that finds no ONVIF service emits nothing. A web port
 * whose first HTTP page request timed out is not guessed at (the guess waits for that request when
 * it is still running): the HTTP probe leaves such a port alone (http.ts), and a guess there would
 * wait out the same timeout for the same silence (probe-passes.ts PortSilence).
 *
 * What: GetSystemDateAndTime first, never with credentials (§5.9.4: always open), which gives the
 * device's clock offset; then GetDeviceInformation, GetNetworkInterfaces (the device's own MAC,
 * which is all the agent learns of a routed device's MAC) and GetScopes. One observation per call.
 * GetScopes is left out for a device whose WS-Discovery reply listed its scopes: they are the same
 * ones ("The scope parameters are used in the device discovery to match a probe message",
 * GetScopes in https://www.onvif.org/ver10/device/wsdl/devicemgmt.wsdl), and the reply's
 * observation carries them already (discovery/wsdiscovery.ts).
 *
 * Credentials: only those the operator supplied (`--credentials`), only that device's one most
 * specific entry, and only after the device refused the call without them:
 * - HTTP 401 with a Digest challenge → the call again with HTTP Digest (RFC 7616, qop=auth);
 * - any other refusal (a SOAP ter:NotAuthorized fault) → WS-Security UsernameToken with
 *   PasswordDigest (ONVIF Core §5.12.2), its `Created` taken from the DEVICE's clock (the
 *   GetSystemDateAndTime offset), since the device judges freshness by its own time.
 * Once a device refuses the credentials they are not sent to it again in this scan (one failed
 * login at most: cameras lock accounts after a few), and the refusal goes on the scan's record
 * (agent/credential-refusals.ts, mechanism `onvif`): later scans and daemon sweeps do not send
 * them to it before the back-off in fingerprints/lockout.yaml ends. No credential is ever logged or
 * recorded: observations say only which mechanism answered (`onvif.auth.method`).
 */
import { randomBytes } from 'node:crypto';
import { deviceUrl, httpRequest, KeptConnection } from '../net/http-client.js';
import { zoneOf } from '../net/ip-address.js';
import { withoutZone } from '../net/ip-address.js';
import type { RateLimiter } from '../net/rate-limiter.js';
import { openPortsFor, probeHosts } from './probe-hosts.js';
import { announcementsWhole, asTheyCome, claimUnprobed, portsSwept, type PortSilence } from './probe-passes.js';
import {
  challengeRealms,
  chooseDigestChallenge,
  digestAuthorization,
  parseChallenges,
  type AuthChallenge,
  type DigestChallenge,
} from '../protocols/http-auth.js';
import {
  buildDeviceRequest,
  deviceAction,
  isNotAuthorizedFault,
  ONVIF_MAX_RESPONSE_BYTES,
  parseDeviceClock,
  parseDeviceInformation,
  parseNetworkInterfaces,
  parseScopes,
  parseSoapEnvelope,
  type DeviceCall,
  type NetworkInterface,
  type SoapOutcome,
} from '../protocols/onvif-soap.js';
import { usernameTokenHeader } from '../protocols/ws-security.js';
import { scopeFields } from '../protocols/wsdiscovery.js';
import type { XmlNode } from '../protocols/xml.js';
import type { Discoverer, ScanContext } from './types.js';
import { cleanDeviceFields, CLEANED_FIELD } from '../safe-text.js';
import type { CredentialStore, Credentials } from '../credentials.js';
import { RefusalLedger } from '../credential-refusals.js';
import type { Fields, Observation, ProbeStatus } from '../types.js';
import type { Logger } from '../log.js';

/**
 * Devices asked at once; each device sees one call at a time (cameras answer slowly and fall over
 * under bursts). 32 at once were no faster on the 1,000-device crowd than 8 (BENCHMARKS.md
 * "Probes beside the sweep").
 */
const CONCURRENCY = 8;
/** Per request at an announced XAddr: cameras answer SOAP slowly. */
const REQUEST_TIMEOUT_MS = 4000;
/** Per request at a guessed web port, which may not speak ONVIF at all: the HTTP probe's own limit. */
const GUESS_TIMEOUT_MS = 3000;
/** The device service's entry point, which ONVIF Core §5.1.1 fixes for every device. */
const DEVICE_SERVICE_PATH = '/onvif/device_service';
/** The mechanism's name on the refusal record and in fingerprints/lockout.yaml. */
const ONVIF_MECHANISM = 'onvif';
/** READ_SYSTEM calls (ONVIF Core §5.9.4): open on some devices, behind credentials on most. */
const PROTECTED_CALLS = ['GetDeviceInformation', 'GetNetworkInterfaces', 'GetScopes'] as const;

/**
 * The XAddr to use for a responder: the first whose host is the responder's own address (for an
 * IPv6 link-local responder, its address without the zone, which no URL can carry).
 */
export function xaddrForResponder(ip: string, xaddrs: readonly string[]): URL | null {
  for (const x of xaddrs) {
    try {
      const url = new URL(x);
      if (url.hostname.replace(/^\[|\]$/g, '') === withoutZone(ip)) return url;
    } catch {
      // validXaddrs already dropped these; nothing to do
    }
  }
  return null;
}

export interface DeviceServiceEndpoint {
  readonly ip: string;
  /** Announced: the one XAddr. Guessed: /onvif/device_service on each open web port, in port order. */
  readonly urls: readonly URL[];
  readonly announced: boolean;
  /** The WS-Discovery reply listed the device's scopes: GetScopes would answer them again. */
  readonly scopesAnnounced: boolean;
}

/**
 * Where to ask each device, per the rules in the header comment. An announced XAddr as soon as it
 * is heard (WS-Discovery passes its replies on early); guesses only once the window has closed, so
 * that no XAddr can come any more (probe-passes.ts), and only in a view in which the host's ports
 * are all swept.
 */
export function deviceServiceEndpoints(ctx: ScanContext, log: Logger): DeviceServiceEndpoint[] {
  const whole = announcementsWhole(ctx);
  const announced = new Map<string, { url: URL; scopes: boolean }>();
  for (const o of ctx.seen) {
    const xaddrs = o.fields['onvif.xaddr'];
    if (o.source !== 'ws-discovery' || !Array.isArray(xaddrs) || announced.has(o.ip)) continue;
    const url = xaddrForResponder(o.ip, xaddrs);
    const scopes = o.fields['onvif.scope'];
    if (url) announced.set(o.ip, { url, scopes: Array.isArray(scopes) ? scopes.length > 0 : scopes !== undefined });
    // Said once, in the first view after the window in which its ports are all swept.
    else if (whole && portsSwept(ctx, o.ip) && claimUnprobed(ctx, 'onvif-device-service', [o.ip], (ip) => `no xaddr ${ip}`).length > 0) {
      log.warn({ ip: o.ip, xaddrs }, 'no XAddr on the answering address; only its open web ports are tried');
    }
  }
  const webPorts = new Map<string, Map<number, URL>>();
  for (const { ip, port, probes } of whole ? openPortsFor(ctx, 'http') : []) {
    if (announced.has(ip) || !portsSwept(ctx, ip)) continue;
    const ports = webPorts.get(ip) ?? new Map<number, URL>();
    ports.set(port, deviceUrl(probes.includes('tls') ? 'https' : 'http', ip, port, DEVICE_SERVICE_PATH));
    webPorts.set(ip, ports);
  }
  return [
    ...[...announced].map(([ip, { url, scopes }]) => ({ ip, urls: [url], announced: true, scopesAnnounced: scopes })),
    ...[...webPorts].map(([ip, ports]) => ({
      ip,
      urls: [...ports.entries()].sort((a, b) => a[0] - b[0]).map(([, url]) => url),
      announced: false,
      scopesAnnounced: false,
    })),
  ];
}

/** How a request is authenticated. */
type Authentication = { kind: 'none' } | { kind: 'ws-usernametoken' } | { kind: 'http-digest'; challenge: DigestChallenge };

/** One HTTP exchange with the device service. */
type Answer =
  | { kind: 'failed'; status: ProbeStatus; reason: string }
  | { kind: 'answered'; httpStatus: number; server: string | null; challenges: AuthChallenge[]; outcome: SoapOutcome };

function refused(answer: Answer): boolean {
  return answer.kind === 'answered' && (answer.httpStatus === 401 || isNotAuthorizedFault(answer.outcome));
}

function headerValues(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The interface the device was reached on (by its IPv4 address), else its only one; its MAC or null. */
export function macForAddress(nics: readonly NetworkInterface[], ip: string): string | null {
  const withMac = nics.filter((n) => n.mac !== null);
  const reached = withMac.find((n) => n.ipv4.includes(ip));
  if (reached) return reached.mac;
  return withMac.length === 1 ? (withMac[0]?.mac ?? null) : null;
}

interface CallResult {
  status: ProbeStatus;
  fields: Fields;
  mac?: string;
}

/** One device service and what the calls so far taught about it. */
class DeviceSession {
  /** Device clock minus local clock, from GetSystemDateAndTime (0 until known). */
  private clockOffsetMs = 0;
  /** A UsernameToken worked for an earlier call: later calls send one straight away. */
  private tokenAccepted = false;
  /** The device refused the operator's credentials once: they are not sent again. */
  private credentialsRefused = false;
  /** The calls without credentials go over one connection while the device keeps it (they only read: KeptConnection). */
  private readonly connection: KeptConnection;

  constructor(
    readonly ip: string,
    readonly url: URL,
    private readonly credentials: Credentials | null,
    private readonly limiter: RateLimiter,
    private readonly signal: AbortSignal,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly refusals: RefusalLedger,
  ) {
    this.connection = new KeptConnection(url.protocol === 'https:');
    const decision = credentials ? refusals.mayTry(ip, ONVIF_MECHANISM) : { allowed: true as const };
    if (!decision.allowed) {
      this.credentialsRefused = true;
      log.info({ ip, retryAfter: decision.retryAfter }, 'the device refused the credentials before; they are not sent again until the back-off ends');
    }
  }

  private async send(call: DeviceCall, auth: Authentication): Promise<Answer> {
    if (!(await this.limiter.take(this.signal))) return { kind: 'failed', status: 'timeout', reason: 'the scan ended first' };
    const headers: Record<string, string> = {
      'Content-Type': `application/soap+xml; charset=utf-8; action="${deviceAction(call)}"`,
    };
    let security: string | undefined;
    if (auth.kind === 'ws-usernametoken' && this.credentials) {
      const { username, password } = this.credentials;
      security = usernameTokenHeader({ username, password, deviceTimeMs: Date.now() + this.clockOffsetMs });
    }
    if (auth.kind === 'http-digest' && this.credentials) {
      headers.Authorization = digestAuthorization({
        challenge: auth.challenge,
        username: this.credentials.username,
        password: this.credentials.password,
        method: 'POST',
        uri: `${this.url.pathname}${this.url.search}`,
        cnonce: randomBytes(16).toString('hex'),
        nonceCount: 1,
      });
    }
    const result = await httpRequest({
      url: this.url,
      zone: zoneOf(this.ip),
      method: 'POST',
      headers,
      body: buildDeviceRequest(call, security),
      timeoutMs: this.timeoutMs,
      maxBodyBytes: ONVIF_MAX_RESPONSE_BYTES,
      signal: this.signal,
      // A credentialed call goes on a connection of its own: sent a second time (a kept connection
      // that failed), its Digest response or UsernameToken nonce could be taken for a replay, and the
      // credentials for refused.
      ...(security === undefined && headers.Authorization === undefined ? { connection: this.connection } : {}),
    });
    if (!result.ok) {
      this.log.debug({ url: this.url.href, call, status: result.status, reason: result.reason }, 'ONVIF request failed');
      return { kind: 'failed', status: result.status, reason: result.reason };
    }
    const { response } = result;
    return {
      kind: 'answered',
      httpStatus: response.status,
      server: headerValues(response.headers.server)[0] ?? null,
      challenges: response.status === 401 ? parseChallenges(headerValues(response.headers['www-authenticate'])) : [],
      outcome: parseSoapEnvelope(response.body),
    };
  }

  /**
   * GetSystemDateAndTime, without credentials; learns the clock offset. `soap` says whether the
   * answer was a SOAP envelope at all (a response or a fault): what shows an ONVIF service is there.
   */
  async clock(): Promise<CallResult & { soap: boolean }> {
    const answer = await this.send('GetSystemDateAndTime', { kind: 'none' });
    const base = this.baseFields(answer);
    if (answer.kind === 'failed') return { status: answer.status, fields: base, soap: false };
    const soap = answer.outcome.kind !== 'malformed';
    if (refused(answer)) return { status: 'auth-required', fields: base, soap };
    const clock = answer.outcome.kind === 'response' ? parseDeviceClock(answer.outcome.body) : null;
    if (!clock) return { status: 'protocol-error', fields: base, soap };
    const offsetMs = clock.utcMs - Date.now();
    this.clockOffsetMs = offsetMs;
    return {
      soap,
      status: 'ok',
      fields: {
        ...base,
        'onvif.time.utc': new Date(clock.utcMs).toISOString(),
        'onvif.time.offsetSeconds': String(Math.round(offsetMs / 1000)),
        ...(clock.dateTimeType ? { 'onvif.time.type': clock.dateTimeType } : {}),
      },
    };
  }

  /** A READ_SYSTEM call: openly first (or with the UsernameToken that worked before), then once with credentials. */
  async protectedCall(call: (typeof PROTECTED_CALLS)[number]): Promise<CallResult> {
    const usable = this.credentials !== null && !this.credentialsRefused;
    let auth: Authentication = usable && this.tokenAccepted ? { kind: 'ws-usernametoken' } : { kind: 'none' };
    let answer = await this.send(call, auth);
    const seen: Fields = this.baseFields(answer);
    if (usable && auth.kind === 'none' && refused(answer) && answer.kind === 'answered') {
      // Each call answers a fresh challenge (nonce count 1): no nonce bookkeeping to get wrong.
      const challenge = answer.httpStatus === 401 ? chooseDigestChallenge(answer.challenges) : null;
      auth = challenge ? { kind: 'http-digest', challenge } : { kind: 'ws-usernametoken' };
      answer = await this.send(call, auth);
      // Keep what the refusal showed (its realm); add what only the second answer did.
      for (const [field, value] of Object.entries(this.baseFields(answer))) seen[field] ??= value;
    }
    if (auth.kind !== 'none') {
      seen['onvif.auth.method'] = auth.kind;
      if (refused(answer)) {
        this.credentialsRefused = true;
        const port = Number(this.url.port || (this.url.protocol === 'https:' ? 443 : 80));
        const { retryAfter } = this.refusals.refused(this.ip, ONVIF_MECHANISM, port);
        this.log.warn({ ip: this.ip, call, mechanism: auth.kind, retryAfter }, 'the device refused the credentials supplied for it; they are not sent to it again');
      } else if (answer.kind === 'answered') {
        this.refusals.accepted(this.ip, ONVIF_MECHANISM);
        if (auth.kind === 'ws-usernametoken') this.tokenAccepted = true;
      }
    }
    if (answer.kind === 'failed') return { status: answer.status, fields: seen };
    if (refused(answer)) return { status: 'auth-required', fields: seen };
    if (answer.outcome.kind !== 'response') {
      this.log.debug({ url: this.url.href, call, http: answer.httpStatus, outcome: answer.outcome.kind }, 'ONVIF answer unusable');
      return { status: 'protocol-error', fields: seen };
    }
    return this.readAnswer(call, answer.outcome.body, seen);
  }

  private readAnswer(call: (typeof PROTECTED_CALLS)[number], body: XmlNode, seen: Fields): CallResult {
    if (call === 'GetDeviceInformation') {
      const info = parseDeviceInformation(body);
      return info ? { status: 'ok', fields: { ...seen, ...info } } : { status: 'protocol-error', fields: seen };
    }
    if (call === 'GetNetworkInterfaces') {
      const nics = parseNetworkInterfaces(body);
      if (!nics) return { status: 'protocol-error', fields: seen };
      const macs = [...new Set(nics.map((n) => n.mac).filter((m): m is string => m !== null))];
      const mac = macForAddress(nics, this.ip);
      return { status: 'ok', fields: { ...seen, ...(macs.length > 0 ? { 'onvif.net.mac': macs } : {}) }, ...(mac ? { mac } : {}) };
    }
    const scopes = parseScopes(body);
    return scopes ? { status: 'ok', fields: { ...seen, ...scopeFields(scopes) } } : { status: 'protocol-error', fields: seen };
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }

  /** Closes the kept connection: call when the session's calls are done. */
  close(): void {
    this.connection.close();
  }

  /** The Server header and, for a 401, the challenge's realm: both seen whatever the call's outcome. */
  private baseFields(answer: Answer): Fields {
    if (answer.kind === 'failed') return {};
    const realm = challengeRealms(answer.challenges)[0];
    return {
      ...(answer.server ? { 'onvif.http.server': answer.server } : {}),
      ...(realm !== undefined ? { 'onvif.auth.realm': realm } : {}),
    };
  }
}

/** The port a device service URL names, or its scheme's default. */
function portOf(url: URL): number {
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

async function probeDevice(
  endpoint: DeviceServiceEndpoint,
  store: CredentialStore | undefined,
  refusals: RefusalLedger,
  silence: PortSilence | undefined,
  signal: AbortSignal,
  limiter: RateLimiter,
  log: Logger,
  emit: (o: Observation) => void,
): Promise<void> {
  const credentials = store?.forHost(endpoint.ip) ?? null;
  for (const url of endpoint.urls) {
    const timeoutMs = endpoint.announced ? REQUEST_TIMEOUT_MS : GUESS_TIMEOUT_MS;
    const port = portOf(url);
    if (!endpoint.announced && (await silence?.silent(endpoint.ip, port))) {
      log.debug({ url: url.href }, 'web port silent to the HTTP probe: no ONVIF guess there');
      continue;
    }
    const session = new DeviceSession(endpoint.ip, url, credentials, limiter, signal, timeoutMs, log, refusals);
    try {
      if ((await askSession(session, endpoint, emit, log)) === 'done') return;
    } finally {
      session.close();
    }
  }
}

/** The calls of one device service URL: 'next-url' when nothing ONVIF answered there and another URL may. */
async function askSession(
  session: DeviceSession,
  endpoint: DeviceServiceEndpoint,
  emit: (o: Observation) => void,
  log: Logger,
): Promise<'done' | 'next-url'> {
  const { url } = session;
  const port = portOf(url);
  const record = (call: DeviceCall, result: CallResult): void =>
    emit({
      source: 'onvif-device-service',
      ip: endpoint.ip,
      port,
      ...(result.mac ? { mac: result.mac } : {}),
      at: new Date().toISOString(),
      status: result.status,
      // The answer's headers (Server, the realm) and clock type join the codec's fields here: all are cleaned.
      fields: cleanDeviceFields({ ...result.fields, 'onvif.call': call }),
    });
  const { soap, ...clock } = await session.clock();
  if (!endpoint.announced && !soap) {
    log.debug({ url: url.href, status: clock.status }, 'no ONVIF device service at this web port');
    return 'next-url';
  }
  record('GetSystemDateAndTime', clock);
  if (clock.status === 'refused' || clock.status === 'timeout' || clock.status === 'error') return 'done';
  for (const call of PROTECTED_CALLS) {
    if (session.aborted) return 'done';
    if (call === 'GetScopes' && endpoint.scopesAnnounced) continue;
    record(call, await session.protectedCall(call));
  }
  return 'done';
}

export const onvifDevice: Discoverer<'onvif-device-service'> = {
  name: 'onvif-device-service',
  phase: 'probe',
  evidence: 'onvif',
  emits: [
    'onvif.call', 'onvif.time.type', 'onvif.time.utc', 'onvif.time.offsetSeconds', 'onvif.device.manufacturer', 'onvif.device.model',
    'onvif.device.firmware', 'onvif.device.serial', 'onvif.device.hardwareId', 'onvif.net.mac', 'onvif.scope', 'onvif.scope.name',
    'onvif.scope.hardware', 'onvif.scope.location', 'onvif.scope.type', 'onvif.scope.profile', 'onvif.scope.mac', 'onvif.http.server',
    'onvif.auth.realm', 'onvif.auth.method', CLEANED_FIELD,
  ],
  description: 'ONVIF device service: clock, device information, network interfaces and scopes (with credentials only where the operator supplied them)',
  incremental: true,

  async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
    const log = ctx.log.child({ module: 'onvif-device-service' });
    let devices = 0;
    let withCredentials = 0;
    // One device service per device, whether it was announced in one view or guessed in a later one.
    const endpoints = asTheyCome(ctx, (view) => {
      const found = claimUnprobed(view, 'onvif-device-service', deviceServiceEndpoints(view, log), (e) => e.ip);
      devices += found.length;
      withCredentials += found.filter((e) => ctx.credentials?.forHost(e.ip)).length;
      return found;
    });
    const refusals = ctx.refusals ?? new RefusalLedger([], ctx.knowledge.lockout);
    await probeHosts(ctx, endpoints, { concurrency: CONCURRENCY }, (endpoint) => endpoint.ip, (endpoint, { signal, limiter }) =>
      probeDevice(endpoint, ctx.credentials, refusals, ctx.portSilence, signal, limiter, log, emit),
    );
    log.info({ devices, withCredentials }, 'ONVIF device service probes finished');
  },
};
