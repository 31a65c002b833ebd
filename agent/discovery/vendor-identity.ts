/**
 * The makers' own identity APIs, read with the operator's credentials (phase 'probe'): Hikvision
 * ISAPI `GET /ISAPI/System/deviceInfo` and the Dahua HTTP API `magicBox.cgi` actions
 * (agent/protocols/isapi.ts, dahua-cgi.ts). They give model, serial, MAC and firmware where ONVIF
 * is off (the default on many Hikvision firmwares) or moved, on whichever open web port answers
 * in the vendor's style: every port the connect phase marked for `http`, 8080 as much as 80.
 *
 * Only hosts the operator supplied credentials for are asked at all; without them this sends
 * nothing (the HTTP probe's credential-less GET of the ISAPI page is discovery/http.ts's). For a
 * host with credentials, port by port, in port order:
 * 1. `GET /ISAPI/System/deviceInfo` without credentials. A DeviceInfo answer is read as it is (old
 *    firmware gives it away); a 401 with an ISAPI body (`userCheck`) and a Digest challenge means
 *    the port speaks ISAPI: the same GET once more with HTTP Digest (RFC 7616).
 * 2. Otherwise `GET /cgi-bin/magicBox.cgi?action=getSystemInfo` without credentials: an answer is
 *    read as it is; a 401 with a Digest challenge means the port speaks the Dahua CGI: the identity
 *    actions with Digest, getSystemInfo first.
 * The first port that answers in either style is the host's; the others are not asked.
 *
 * Lockout safety (fingerprints/lockout.yaml, agent/credential-refusals.ts): one credentialed
 * attempt per device and mechanism per scan, and none at all while an earlier refusal's back-off
 * runs; a 401 to the credentials is a refusal: it is recorded (the scan's
 * `scan.credentialRefusals`), logged without the credentials, and the host is not asked anything
 * more. A stale nonce (RFC 7616 §3.3 `stale=true`) is no refusal: the request is answered once
 * more with the fresh one. A device that offers only Basic is not sent the password (it would
 * travel in clear). Credentials never reach an observation or a log line; observations say only
 * how the answer came (`vendorapi.auth`).
 */
import { randomBytes } from 'node:crypto';
import { RefusalLedger } from '../credential-refusals.js';
import type { Credentials } from '../credentials.js';
import { deviceUrl, httpRequest, type HttpResponse } from '../net/http-client.js';
import { zoneOf } from '../net/ip-address.js';
import { normaliseMac } from '../net/mac.js';
import { chooseDigestChallenge, digestAuthorization, parseChallenges, type AuthChallenge, type DigestChallenge } from '../protocols/http-auth.js';
import { isIsapiAnswer, ISAPI_DEVICE_INFO_PATH, ISAPI_MAX_RESPONSE_BYTES, parseIsapiDeviceInfo } from '../protocols/isapi.js';
import { MAGICBOX_ACTIONS, MAGICBOX_MAX_RESPONSE_BYTES, magicBoxFields, magicBoxTarget } from '../protocols/dahua-cgi.js';
import { cleanDeviceFields, CLEANED_FIELD } from '../safe-text.js';
import type { Fields, Observation, ProbeStatus } from '../types.js';
import type { Logger } from '../log.js';
import { httpTargets, type HttpTarget } from './http.js';
import { probeHosts, withDefaults, type ItemProbe } from './probe-hosts.js';
import type { Discoverer, ScanContext } from './types.js';

/** The two mechanisms, named as fingerprints/lockout.yaml and `vendorapi.name` name them. */
export type VendorApi = 'hikvision-isapi' | 'dahua-cgi';

/**
 * How an answer came, written to `vendorapi.auth`:
 *   open        without credentials (the device gave it away)
 *   digest      with the operator's credentials, HTTP Digest
 *   refused     the device refused the credentials (401 to them): recorded, not sent again
 *   backed-off  not sent: an earlier refusal's back-off still runs
 *   no-digest   not sent: the device offered no Digest challenge (Basic would send the password in clear)
 */
export type VendorApiAuth = 'open' | 'digest' | 'refused' | 'backed-off' | 'no-digest';

export interface VendorIdentityOptions {
  /** Whole exchange, per request. */
  timeoutMs?: number;
  /** Hosts asked at once. */
  hostConcurrency?: number;
  /** Everything one host may take. */
  hostDeadlineMs?: number;
}

const DEFAULTS = {
  // The HTTP probe's own per-request limit: the same web servers.
  timeoutMs: 3000,
  hostConcurrency: 8,
  // A host answers in at most 2 ports × 2 unauthenticated GETs plus 2 requests per action: 12 s covers slow ones.
  hostDeadlineMs: 12_000,
} as const;

const USER_AGENT = 'cctv-agent (CCTV inventory; operator credentials)';

/** One GET's outcome: an answer, or a failure status (timeout, refused…). */
type Exchange = { ok: true; response: HttpResponse } | { ok: false; status: ProbeStatus };

function challengesOf(response: HttpResponse): AuthChallenge[] {
  const value = response.headers['www-authenticate'];
  return parseChallenges(value === undefined ? [] : Array.isArray(value) ? value : [value]);
}

/** RFC 7616 §3.3: `stale=true` says the nonce, not the credentials, was refused. */
function isStale(challenges: readonly AuthChallenge[]): boolean {
  return challenges.some((c) => c.scheme.toLowerCase() === 'digest' && c.params.stale?.toLowerCase() === 'true');
}

/** One host, its credentials and what the scan allows it. */
class HostSession {
  private readonly sent = new Map<DigestChallenge, number>();

  constructor(
    readonly target: HttpTarget,
    private readonly credentials: Credentials,
    private readonly run: ItemProbe,
    private readonly timeoutMs: number,
  ) {}

  /** GET `requestTarget`; with `challenge`, answered with Digest (nonce count 1, 2… for each reuse). */
  async get(requestTarget: string, maxBodyBytes: number, challenge?: DigestChallenge): Promise<Exchange> {
    if (!(await this.run.limiter.take(this.run.signal))) return { ok: false, status: 'timeout' };
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*' };
    if (challenge) {
      const nonceCount = (this.sent.get(challenge) ?? 0) + 1;
      this.sent.set(challenge, nonceCount);
      headers.Authorization = digestAuthorization({
        challenge,
        username: this.credentials.username,
        password: this.credentials.password,
        method: 'GET',
        uri: requestTarget,
        cnonce: randomBytes(16).toString('hex'),
        nonceCount,
      });
    }
    const url = deviceUrl(this.target.tls ? 'https' : 'http', this.target.ip, this.target.port, requestTarget);
    const result = await httpRequest({ url, zone: zoneOf(this.target.ip), method: 'GET', headers, timeoutMs: this.timeoutMs, maxBodyBytes, signal: this.run.signal });
    if (!result.ok) return { ok: false, status: this.run.signal.aborted ? 'timeout' : result.status };
    return { ok: true, response: result.response };
  }

  /**
   * The credentialed GET: Digest on `challenge`; a stale nonce gets one more try with the fresh
   * one. 'refused' when the device answers the credentials with 401.
   */
  async authenticated(requestTarget: string, maxBodyBytes: number, challenge: DigestChallenge): Promise<Exchange | { ok: 'refused' }> {
    let current = challenge;
    for (let attempt = 0; attempt < 2; attempt++) {
      const exchange = await this.get(requestTarget, maxBodyBytes, current);
      if (!exchange.ok || exchange.response.status !== 401) return exchange;
      const challenges = challengesOf(exchange.response);
      const fresh = chooseDigestChallenge(challenges);
      if (!isStale(challenges) || !fresh) return { ok: 'refused' };
      current = fresh;
    }
    return { ok: 'refused' };
  }
}

interface HostReport {
  readonly api: VendorApi;
  readonly auth: VendorApiAuth;
  readonly status: ProbeStatus;
  readonly fields: Fields;
}

/** What one port said to the credential-less first request of an API, and what to do next. */
type FirstAnswer =
  | { kind: 'not-this-api' }
  | { kind: 'unreachable'; status: ProbeStatus }
  | { kind: 'open'; fields: Fields }
  | { kind: 'wants-credentials'; challenge: DigestChallenge | null };

async function askIsapi(session: HostSession): Promise<FirstAnswer> {
  const first = await session.get(ISAPI_DEVICE_INFO_PATH, ISAPI_MAX_RESPONSE_BYTES);
  if (!first.ok) return { kind: 'unreachable', status: first.status };
  const { response } = first;
  if (response.status === 200) {
    const fields = parseIsapiDeviceInfo(response.body);
    return fields ? { kind: 'open', fields } : { kind: 'not-this-api' };
  }
  if (response.status === 401 && isIsapiAnswer(response.body)) return { kind: 'wants-credentials', challenge: chooseDigestChallenge(challengesOf(response)) };
  return { kind: 'not-this-api' };
}

async function askDahua(session: HostSession): Promise<FirstAnswer> {
  const first = await session.get(magicBoxTarget('getSystemInfo'), MAGICBOX_MAX_RESPONSE_BYTES);
  if (!first.ok) return { kind: 'unreachable', status: first.status };
  const { response } = first;
  if (response.status === 200) {
    const fields = magicBoxFields('getSystemInfo', response.body);
    return fields ? { kind: 'open', fields } : { kind: 'not-this-api' };
  }
  if (response.status === 401) {
    const challenges = challengesOf(response);
    if (challenges.length > 0) return { kind: 'wants-credentials', challenge: chooseDigestChallenge(challenges) };
  }
  return { kind: 'not-this-api' };
}

/** The Dahua actions after getSystemInfo, each with the same challenge (or none, when the device answered openly). */
async function readDahuaActions(session: HostSession, fields: Fields, challenge: DigestChallenge | null): Promise<void> {
  for (const action of MAGICBOX_ACTIONS.slice(1)) {
    const exchange = challenge
      ? await session.authenticated(magicBoxTarget(action), MAGICBOX_MAX_RESPONSE_BYTES, challenge)
      : await session.get(magicBoxTarget(action), MAGICBOX_MAX_RESPONSE_BYTES);
    // The credentials worked for getSystemInfo: a later refusal or failure ends the reading, it is no login failure to record.
    if (exchange.ok !== true || exchange.response.status !== 200) return;
    Object.assign(fields, magicBoxFields(action, exchange.response.body) ?? {});
  }
}

/** The credentialed read of one API on a port that asked for credentials. */
async function readWithCredentials(
  session: HostSession,
  api: VendorApi,
  challenge: DigestChallenge | null,
  ledger: RefusalLedger,
  log: Logger,
): Promise<HostReport> {
  const { ip, port } = session.target;
  if (!challenge) {
    log.info({ ip, port, api }, 'the device offers no Digest challenge; the credentials are not sent (Basic would carry the password in clear)');
    return { api, auth: 'no-digest', status: 'auth-required', fields: {} };
  }
  const decision = ledger.mayTry(ip, api);
  if (!decision.allowed) {
    log.info({ ip, port, api, retryAfter: decision.retryAfter }, 'the device refused the credentials before; they are not sent again until the back-off ends');
    return { api, auth: 'backed-off', status: 'auth-required', fields: {} };
  }
  const target = api === 'hikvision-isapi' ? ISAPI_DEVICE_INFO_PATH : magicBoxTarget('getSystemInfo');
  const maxBytes = api === 'hikvision-isapi' ? ISAPI_MAX_RESPONSE_BYTES : MAGICBOX_MAX_RESPONSE_BYTES;
  const exchange = await session.authenticated(target, maxBytes, challenge);
  if (exchange.ok === 'refused') {
    const entry = ledger.refused(ip, api, port);
    log.warn({ ip, port, api, refusals: entry.refusals, retryAfter: entry.retryAfter }, 'the device refused the credentials supplied for it; they are not sent to it again before retryAfter');
    return { api, auth: 'refused', status: 'auth-required', fields: {} };
  }
  if (!exchange.ok) return { api, auth: 'digest', status: exchange.status, fields: {} };
  ledger.accepted(ip, api);
  const { response } = exchange;
  const fields = response.status !== 200 ? null : api === 'hikvision-isapi' ? parseIsapiDeviceInfo(response.body) : magicBoxFields('getSystemInfo', response.body);
  if (!fields) return { api, auth: 'digest', status: 'protocol-error', fields: {} };
  if (api === 'dahua-cgi') await readDahuaActions(session, fields, challenge);
  return { api, auth: 'digest', status: 'ok', fields };
}

/** Port by port until one answers in a vendor's style; null when none does. */
async function readHost(targets: readonly HttpTarget[], credentials: Credentials, run: ItemProbe, timeoutMs: number, ledger: RefusalLedger, log: Logger): Promise<{ target: HttpTarget; report: HostReport } | null> {
  for (const target of targets) {
    if (run.signal.aborted) return null;
    const session = new HostSession(target, credentials, run, timeoutMs);
    const isapi = await askIsapi(session);
    // A port that does not answer HTTP in time is left alone, as the HTTP probe leaves it.
    if (isapi.kind === 'unreachable') continue;
    if (isapi.kind === 'open') return { target, report: { api: 'hikvision-isapi', auth: 'open', status: 'ok', fields: isapi.fields } };
    if (isapi.kind === 'wants-credentials') return { target, report: await readWithCredentials(session, 'hikvision-isapi', isapi.challenge, ledger, log) };
    const dahua = await askDahua(session);
    if (dahua.kind === 'open') {
      await readDahuaActions(session, dahua.fields, null);
      return { target, report: { api: 'dahua-cgi', auth: 'open', status: 'ok', fields: dahua.fields } };
    }
    if (dahua.kind === 'wants-credentials') return { target, report: await readWithCredentials(session, 'dahua-cgi', dahua.challenge, ledger, log) };
  }
  return null;
}

export function createVendorIdentityDiscoverer(options: VendorIdentityOptions = {}): Discoverer<'vendor-identity'> {
  const { timeoutMs, hostConcurrency, hostDeadlineMs } = withDefaults(options, DEFAULTS);
  return {
    name: 'vendor-identity',
    phase: 'probe',
    evidence: 'http',
    emits: [
      'vendorapi.name', 'vendorapi.auth',
      'isapi.model', 'isapi.serial', 'isapi.mac', 'isapi.firmware', 'isapi.deviceType', 'isapi.manufacturer', 'isapi.oemCode', 'isapi.subSerial', 'isapi.namespace',
      'dahua.cgi.model', 'dahua.cgi.serial', 'dahua.cgi.hardwareVersion', 'dahua.cgi.updateSerial', 'dahua.cgi.firmware', 'dahua.cgi.firmwareBuild', 'dahua.cgi.type', 'dahua.cgi.vendor',
      CLEANED_FIELD,
    ],
    description: "the makers' identity APIs (Hikvision ISAPI deviceInfo, Dahua magicBox.cgi) on open web ports, with the operator's credentials only, lockout-safe",

    async run(ctx: ScanContext, emit: (o: Observation) => void): Promise<void> {
      const store = ctx.credentials;
      if (!ctx.active || !store) return;
      const log = ctx.log.child({ module: 'vendor-identity' });
      const ledger = ctx.refusals ?? new RefusalLedger([], ctx.knowledge.lockout);
      const hosts = [...httpTargets(ctx).entries()].flatMap(([ip, targets]) => {
        const credentials = store.forHost(ip);
        return credentials ? [{ ip, targets, credentials }] : [];
      });
      let answered = 0;
      await probeHosts(ctx, hosts, { concurrency: hostConcurrency, deadlineMs: hostDeadlineMs }, (host) => host.ip, async ({ targets, credentials }, run) => {
        const found = await readHost(targets, credentials, run, timeoutMs, ledger, log);
        if (!found) return;
        answered++;
        const { target, report } = found;
        // The device's own MAC, as ONVIF's GetNetworkInterfaces gives it: all the agent learns of a routed device's MAC.
        const isapiMac = report.fields['isapi.mac'];
        const mac = typeof isapiMac === 'string' ? normaliseMac(isapiMac) : null;
        emit({
          source: 'vendor-identity',
          ip: target.ip,
          port: target.port,
          ...(mac ? { mac } : {}),
          at: new Date().toISOString(),
          status: report.status,
          fields: cleanDeviceFields({ ...report.fields, 'vendorapi.name': report.api, 'vendorapi.auth': report.auth }),
        });
      });
      log.info({ hosts: hosts.length, answered }, 'vendor identity reads finished');
    },
  };
}

export const vendorIdentity: Discoverer<'vendor-identity'> = createVendorIdentityDiscoverer();
