/**
 * Vendor web pages on the device's HTTP ports, through the shared HttpHost (ONVIF answers on port
 * 80 too; routes are exact paths, so both live on one server). Each page is a fixed answer: status,
 * headers and a body from tests/fixtures/http/ (the same files the codec tests parse), so what the
 * lab serves is what the fixtures README cites. Paths the profile does not list get HttpHost's 404.
 * The same pages are served over HTTPS by responders/tls.ts when the profile has a `tls` section.
 *
 * Profile key `http` (checked here, where the protocol lives):
 *   { "ports"?: number[]                       default [80]
 *     "headers"?: { name: value }              sent with every page of this section, names as
 *                                              written (Dahua sends upper-case names, no Server)
 *     "pages": [ { "path": "/…", "status": 200, "headers"?: { name: value | value[] },
 *                  "file"?: "dahua/index.html"  (under tests/fixtures/http/) | "body"?: "text" } ],
 *     "source": string[] }
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpReply } from '../http-host.js';
import { ProfileError, type LabProfile } from '../profile.js';
import type { Responder, ResponderContext, RunningResponder } from './types.js';

export interface LabPage {
  path: string;
  status: number;
  headers?: Record<string, string | string[]>;
  /** Body file, relative to tests/fixtures/http/. */
  file?: string;
  /** Inline body (when there is no file). */
  body?: string;
}

export interface HttpPagesProfile {
  ports?: number[];
  headers?: Record<string, string>;
  pages: LabPage[];
  source: string[];
}

/**
 * A path in the repository: the nearest folder above this (compiled) module that holds
 * tests/fixtures/http; lab.sh runs the simulator from the repository root, which is the fallback.
 */
export function repoPath(...parts: string[]): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'tests', 'fixtures', 'http'))) return join(dir, ...parts);
    dir = dirname(dir);
  }
  return join(process.cwd(), ...parts);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

function checkHeaders(v: unknown, where: string, allowLists: boolean): void {
  if (v === undefined) return;
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object of header names to values`);
  for (const [name, value] of Object.entries(v)) {
    const ok = typeof value === 'string' || (allowLists && Array.isArray(value) && value.every((x) => typeof x === 'string'));
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || !ok) throw new ProfileError(`${where}.${name}: expected a header name and a string value`);
  }
}

/** Validates the profile's `http` section; throws ProfileError. */
export function checkHttpPagesProfile(v: unknown, where: string): HttpPagesProfile {
  if (!isObj(v)) throw new ProfileError(`${where}: expected an object`);
  if (v.ports !== undefined && !(Array.isArray(v.ports) && v.ports.length > 0 && v.ports.every(isPort))) {
    throw new ProfileError(`${where}.ports: expected a non-empty array of TCP ports`);
  }
  checkHeaders(v.headers, `${where}.headers`, false);
  if (!Array.isArray(v.pages) || v.pages.length === 0) throw new ProfileError(`${where}.pages: expected a non-empty array`);
  v.pages.forEach((page: unknown, i: number) => {
    const at = `${where}.pages[${i}]`;
    if (!isObj(page)) throw new ProfileError(`${at}: expected an object`);
    if (typeof page.path !== 'string' || !page.path.startsWith('/')) throw new ProfileError(`${at}.path: expected an absolute path`);
    if (typeof page.status !== 'number' || page.status < 100 || page.status > 599) throw new ProfileError(`${at}.status: expected an HTTP status`);
    checkHeaders(page.headers, `${at}.headers`, true);
    if ((page.file === undefined) === (page.body === undefined)) throw new ProfileError(`${at}: give exactly one of file and body`);
    if (page.file !== undefined && (typeof page.file !== 'string' || page.file.includes('..'))) throw new ProfileError(`${at}.file: expected a path under tests/fixtures/http/`);
    if (page.body !== undefined && typeof page.body !== 'string') throw new ProfileError(`${at}.body: expected a string`);
  });
  if (!Array.isArray(v.source) || !v.source.every((s) => typeof s === 'string')) throw new ProfileError(`${where}.source: expected an array of strings`);
  return v as unknown as HttpPagesProfile;
}

/** The answers of a profile's pages, by path, bodies read once at start. */
export function pageReplies(profile: LabProfile): Map<string, HttpReply> {
  const cfg = checkHttpPagesProfile(profile.http, `profile ${profile.name}.http`);
  const replies = new Map<string, HttpReply>();
  for (const page of cfg.pages) {
    const body = page.file !== undefined ? readFileSync(repoPath('tests', 'fixtures', 'http', page.file)) : Buffer.from(page.body ?? '', 'utf8');
    replies.set(page.path, { status: page.status, headers: { ...cfg.headers, ...page.headers }, body });
  }
  return replies;
}

export const httpPagesResponder: Responder = {
  key: 'http',
  description: 'vendor web pages (fixed answers from tests/fixtures/http/) on the HTTP ports',
  async start(ctx: ResponderContext): Promise<RunningResponder> {
    const cfg = checkHttpPagesProfile(ctx.profile.http, `profile ${ctx.profile.name}.http`);
    const log = ctx.log.child('http-pages');
    const replies = pageReplies(ctx.profile);
    const ports = cfg.ports ?? [80];
    for (const port of ports) {
      for (const [path, reply] of replies) {
        ctx.http.route(port, path, (req) => {
          // Whether the request carried credentials (never which): the lab tests count credentialed attempts.
          const sent = req.req.headers.authorization === undefined ? '' : ' (credentials sent)';
          log.info(`${req.method} ${req.path} from ${req.remote}${sent} -> ${reply.status}`);
          return reply;
        });
      }
    }
    return { endpoints: ports.map((p) => `http :${p} ${[...replies.keys()].join(' ')}`), close: async () => undefined };
  },
};
