/**
 * Operator-supplied device credentials (`--credentials FILE`), loaded and checked before the scan
 * sends anything. The agent never guesses: only what this file names is ever tried, and for a
 * device only its one most specific entry.
 *
 * File format: a JSON array of entries
 *   {"ip": "198.18.0.10", "username": "…", "password": "…"}     this address
 *   {"cidr": "198.18.0.0/24", "username": "…", "password": "…"} every address in the block
 *   {"username": "…", "password": "…"}                           every device (the default)
 * For a device the most specific entry wins: its ip, else the longest matching cidr, else the default.
 *
 * The file must be private to its owner (no group/other permission bits, like ssh's keys), and
 * credentials never reach a log line, an observation, the store or a report: a Credentials value
 * prints as `[credentials]` whatever serialises it.
 */
import { isIPv4 } from 'node:net';
import { inspect } from 'node:util';
import { readBoundedTextFile } from './bounded-file.js';
import { agentError } from './errors.js';
import { ipv4ToInt, parseCidr, type Ipv4Range } from './net/ipv4.js';

/** A credentials file is a few entries; anything this big is not one. */
const MAX_FILE_BYTES = 1024 * 1024;
const ENTRY_KEYS = new Set(['ip', 'cidr', 'username', 'password']);

/** A username and password the operator supplied for some devices. Serialises as `[credentials]`. */
export class Credentials {
  readonly username: string;
  readonly password: string;

  constructor(username: string, password: string) {
    this.username = username;
    this.password = password;
    Object.freeze(this);
  }

  toJSON(): string {
    return '[credentials]';
  }

  toString(): string {
    return '[credentials]';
  }

  [inspect.custom](): string {
    return '[credentials]';
  }
}

/** The credentials to use for each device. */
export interface CredentialStore {
  /** The most specific entry for this address (ip, else longest cidr, else the default), or null. */
  forHost(ip: string): Credentials | null;
  /** How many entries the file had. */
  readonly size: number;
}

interface CidrEntry extends Ipv4Range {
  readonly bits: number;
  readonly credentials: Credentials;
}

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `line ${line}, column ${column}`;
}

/**
 * Where JSON.parse stops, without repeating any of the text (which may hold a password) the way
 * V8's own messages do. A prefix is "viable" when it is valid JSON or only fails for running out
 * of input; the first character that makes a prefix not viable is the error.
 */
function jsonErrorOffset(text: string): number {
  const viable = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (error) {
      const message = (error as Error).message;
      if (/^Unexpected end of JSON input/.test(message)) return true;
      const position = /at position (\d+)/.exec(message);
      return position !== null && Number(position[1]) >= length;
    }
  };
  // Invariant: the first `good` characters are viable; the first `bad` are not (the whole text
  // plus one more character stands in for "past the end").
  let good = 0;
  let bad = text.length + 1;
  while (bad - good > 1) {
    const mid = Math.floor((good + bad) / 2);
    if (viable(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds the store from the file's text; `file` only names it in error messages. Throws CCTV_ERR_CREDENTIALS_INVALID. */
export function parseCredentials(text: string, file: string): CredentialStore {
  const invalid = (why: string): Error => agentError('CCTV_ERR_CREDENTIALS_INVALID', file, why);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`it is not JSON (the error is at ${lineColumn(text, jsonErrorOffset(text))})`);
  }
  if (!Array.isArray(parsed)) throw invalid('the top level is not a JSON array');

  const byIp = new Map<string, Credentials>();
  const byCidr: CidrEntry[] = [];
  let fallback: Credentials | null = null;
  const seenScopes = new Map<string, number>();
  parsed.forEach((entry: unknown, index) => {
    const where = `entry ${index + 1}`;
    if (!isRecord(entry)) throw invalid(`${where} is not a JSON object`);
    for (const key of Object.keys(entry)) {
      if (!ENTRY_KEYS.has(key)) throw invalid(`${where} has an unknown key "${key.slice(0, 40)}" (allowed: ip, cidr, username, password)`);
    }
    const { ip, cidr, username, password } = entry;
    if (typeof username !== 'string' || username === '') throw invalid(`${where} has no "username" (a non-empty string)`);
    if (typeof password !== 'string' || password === '') throw invalid(`${where} has no "password" (a non-empty string)`);
    if (ip !== undefined && cidr !== undefined) throw invalid(`${where} has both "ip" and "cidr"; give one`);
    const credentials = new Credentials(username, password);
    let scope: string;
    if (ip !== undefined) {
      if (typeof ip !== 'string' || !isIPv4(ip)) throw invalid(`${where} has an "ip" that is not an IPv4 address`);
      scope = `ip ${ip}`;
      byIp.set(ip, credentials);
    } else if (cidr !== undefined) {
      const block = typeof cidr === 'string' ? parseCidr(cidr) : null;
      if (!block) throw invalid(`${where} has a "cidr" that is not an IPv4 CIDR block such as 198.18.0.0/24`);
      scope = `cidr ${block.first}/${block.bits}`;
      byCidr.push({ ...block, credentials });
    } else {
      scope = 'default';
      fallback = credentials;
    }
    const earlier = seenScopes.get(scope);
    if (earlier !== undefined) throw invalid(`entries ${earlier} and ${index + 1} apply to the same devices; keep one`);
    seenScopes.set(scope, index + 1);
  });
  byCidr.sort((a, b) => b.bits - a.bits);

  return {
    size: parsed.length,
    forHost(address: string): Credentials | null {
      const exact = byIp.get(address);
      if (exact) return exact;
      if (isIPv4(address)) {
        const n = ipv4ToInt(address);
        for (const entry of byCidr) {
          if (n >= entry.first && n <= entry.last) return entry.credentials;
        }
      }
      return fallback;
    },
  };
}

/**
 * Reads and checks the credentials file. Refuses (coded errors, exit 2) a missing or unreadable
 * file, one that group or others may access (mode & 0o077), an oversized one, and any content
 * problem. No message repeats a username or password.
 */
export function loadCredentials(file: string): CredentialStore {
  const unreadable = (why: string): Error => agentError('CCTV_ERR_CREDENTIALS_UNREADABLE', file, why);
  const read = readBoundedTextFile(file, {
    maxBytes: MAX_FILE_BYTES,
    inspect(stat) {
      if ((stat.mode & 0o077) !== 0) throw agentError('CCTV_ERR_CREDENTIALS_EXPOSED', file, (stat.mode & 0o777).toString(8).padStart(4, '0'));
      if (stat.size > MAX_FILE_BYTES) {
        throw agentError('CCTV_ERR_CREDENTIALS_INVALID', file, `it is ${stat.size} bytes, more than a credentials file needs (at most ${MAX_FILE_BYTES})`);
      }
    },
  });
  if (!read.ok) throw unreadable(read.reason);
  // A byte-order mark (editors on Windows add one) is not part of the JSON.
  return parseCredentials(read.text.replace(/^\uFEFF/, ''), file);
}
