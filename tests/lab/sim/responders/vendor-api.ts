/**
 * The makers' identity APIs behind HTTP Digest (RFC 7616, qop=auth, checked by ../auth.ts), on the
 * device's web ports through the shared HttpHost:
 * - profile key `isapi`: Hikvision ISAPI `GET /ISAPI/System/deviceInfo`. Without valid credentials
 *   a 401 with a Digest challenge and the `userCheck` body
 *   (tests/fixtures/http/hikvision/isapi-usercheck-401.xml); with them the DeviceInfo document of
 *   `deviceInfo` (a file under tests/fixtures/isapi/).
 * - profile key `dahuaCgi`: Dahua `GET /cgi-bin/magicBox.cgi?action=…` for getSystemInfo,
 *   getSoftwareVersion, getDeviceType and getVendor: a 401 with a Digest challenge and an
 *   `Error / Authorization Failed!` body, or with valid credentials the `answers` file of the
 *   action (under tests/fixtures/dahua-cgi/).
 * Each section: { "ports"?: number[] (default [80]), "realm": string,
 *   "credentials": { "username", "password" }, …, "source": string[] }.
 *
 * Every request is logged as `GET <target> from <peer> (<no credentials|credentials ok|bad
 * credentials>) -> <status>`, so the lab tests can count what the agent sent (never the credentials
 * themselves).
 */
import { readFileSync } from 'node:fs';
import { hikvisionNonce, verifyDigest, type Credentials } from '../auth.js';
import type { HttpReply, HttpRequest } from '../http-host.js';
import type { SimLog } from '../log.js';
import { ProfileError, type LabProfile } from '../profile.js';
import { repoPath } from './http-pages.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

const MAGICBOX_ACTIONS = ['getSystemInfo', 'getSoftwareVersion', 'getDeviceType', 'getVendor'] as const;
/** Nonces the device remembers (a real one keeps a few): enough for one scan's requests. */
const KNOWN_NONCES = 256;

interface ApiSection {
  ports?: number[];
  realm: string;
  credentials: Credentials;
  source: string[];
}

export interface IsapiProfile extends ApiSection {
  /** The DeviceInfo answer, under tests/fixtures/isapi/. */
  deviceInfo: string;
}

export interface DahuaCgiProfile extends ApiSection {
  /** Each action's answer, under tests/fixtures/dahua-cgi/. */
  answers: Record<(typeof MAGICBOX_ACTIONS)[number], string>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isFixturePath = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && !v.includes('..');

function checkSection(v: unknown, where: string): ApiSection {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (v.ports !== undefined && !(Array.isArray(v.ports) && v.ports.length > 0 && v.ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535))) {
    throw new ProfileError(`${where}.ports: expected a non-empty array of TCP ports`);
  }
  if (typeof v.realm !== 'string' || v.realm === '') throw new ProfileError(`${where}.realm: expected a string`);
  const c = v.credentials;
  if (!isObj(c) || typeof c.username !== 'string' || typeof c.password !== 'string') throw new ProfileError(`${where}.credentials: expected { username, password }`);
  if (!Array.isArray(v.source) || !v.source.every((s) => typeof s === 'string')) throw new ProfileError(`${where}.source: expected an array of strings`);
  return v as unknown as ApiSection;
}

export function checkIsapiProfile(v: unknown, where: string): IsapiProfile {
  const section = checkSection(v, where) as IsapiProfile;
  if (!isFixturePath(section.deviceInfo)) throw new ProfileError(`${where}.deviceInfo: expected a file under tests/fixtures/isapi/`);
  return section;
}

export function checkDahuaCgiProfile(v: unknown, where: string): DahuaCgiProfile {
  const section = checkSection(v, where) as DahuaCgiProfile;
  if (!isObj(section.answers) || !MAGICBOX_ACTIONS.every((a) => isFixturePath(section.answers[a]))) {
    throw new ProfileError(`${where}.answers: expected a file under tests/fixtures/dahua-cgi/ for each of ${MAGICBOX_ACTIONS.join(', ')}`);
  }
  return section;
}

/** Digest-protected answers: 401 with a fresh challenge until the request carries valid credentials. */
function guarded(
  section: ApiSection,
  log: SimLog,
  unauthorized: { body: Buffer | string; contentType: string },
  answer: (req: HttpRequest) => HttpReply | null,
): (req: HttpRequest) => HttpReply {
  const nonces = new Set<string>();
  return (req) => {
    const target = `${req.path}${req.query.size > 0 ? `?${req.query.toString()}` : ''}`;
    const authorization = req.req.headers.authorization;
    const ok = verifyDigest(authorization, req.method, section.realm, section.credentials, (n) => nonces.has(n));
    let reply: HttpReply | null = ok ? answer(req) : null;
    if (ok && !reply) reply = { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'Error\r\nBad Request!\r\n' };
    if (!reply) {
      const nonce = hikvisionNonce();
      nonces.add(nonce);
      if (nonces.size > KNOWN_NONCES) nonces.delete(nonces.values().next().value as string);
      reply = {
        status: 401,
        headers: { 'Content-Type': unauthorized.contentType, 'WWW-Authenticate': `Digest qop="auth", realm="${section.realm}", nonce="${nonce}", stale="FALSE"` },
        body: unauthorized.body,
      };
    }
    const how = authorization === undefined ? 'no credentials' : ok ? 'credentials ok' : 'bad credentials';
    log.info(`${req.method} ${target} from ${req.remote} (${how}) -> ${reply.status}`);
    return reply;
  };
}

const fixture = (folder: string, file: string): Buffer => readFileSync(repoPath('tests', 'fixtures', folder, file));

function started(ports: number[], what: string): RunningResponder {
  return { endpoints: ports.map((p) => `http :${p} ${what}`), close: async () => undefined };
}

export const isapiResponder: Responder = {
  key: 'isapi',
  description: 'Hikvision ISAPI /ISAPI/System/deviceInfo behind HTTP Digest',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const profile: LabProfile = ctx.profile;
    const cfg = checkIsapiProfile(profile.isapi, `profile ${profile.name}.isapi`);
    const ports = cfg.ports ?? [80];
    const deviceInfo = fixture('isapi', cfg.deviceInfo);
    const userCheck = { body: fixture('http', 'hikvision/isapi-usercheck-401.xml'), contentType: 'application/xml' };
    const handler = guarded(cfg, ctx.log.child('isapi'), userCheck, () => ({
      status: 200,
      headers: { 'Content-Type': 'application/xml' },
      body: deviceInfo,
    }));
    for (const port of ports) ctx.http.route(port, '/ISAPI/System/deviceInfo', handler);
    return started(ports, '/ISAPI/System/deviceInfo (Digest)');
  },
};

export const dahuaCgiResponder: Responder = {
  key: 'dahuaCgi',
  description: 'Dahua HTTP API /cgi-bin/magicBox.cgi identity actions behind HTTP Digest',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const profile: LabProfile = ctx.profile;
    const cfg = checkDahuaCgiProfile(profile.dahuaCgi, `profile ${profile.name}.dahuaCgi`);
    const ports = cfg.ports ?? [80];
    const answers = new Map<string, Buffer>(MAGICBOX_ACTIONS.map((a) => [a, fixture('dahua-cgi', cfg.answers[a])]));
    // The 401 body of the CGI is not published; the error form is that of https://github.com/nayrnet/node-dahua-api/issues/9.
    const refusal = { body: fixture('dahua-cgi', 'authorization-failed.txt'), contentType: 'text/plain' };
    const handler = guarded(cfg, ctx.log.child('dahua-cgi'), refusal, (req) => {
      const body = answers.get(req.query.get('action') ?? '');
      return body ? { status: 200, headers: { 'Content-Type': 'text/plain;charset=utf-8' }, body } : null;
    });
    for (const port of ports) ctx.http.route(port, '/cgi-bin/magicBox.cgi', handler);
    return started(ports, '/cgi-bin/magicBox.cgi (Digest)');
  },
};
