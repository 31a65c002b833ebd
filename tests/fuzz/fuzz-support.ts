/**
 * Shared pieces of the property-based fuzz suite (fast-check, https://fast-check.dev/).
 *
 * CI runs each property a few hundred times with a fixed seed (a few seconds in all); `npm run
 * fuzz` runs the same properties with FUZZ_RUNS inputs each (scripts/fuzz.sh). A failure prints
 * fast-check's seed and shrink path; FUZZ_SEED=<seed> replays it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { expect } from 'vitest';
import { hasUnsafeText } from '../../agent/safe-text.js';

/** The seed every property uses unless FUZZ_SEED says otherwise (a failure prints the one it used). */
export const FUZZ_SEED = integerFromEnv('FUZZ_SEED') ?? 0x5eed_c0de;

/**
 * How long one input may take before the property fails. Only a hang or super-linear work gets
 * near it: the slowest codec input measured here takes a few milliseconds, and CI shares two cores.
 */
export const HANG_BOUND_MS = 1500;

function integerFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

/** fast-check parameters: `ciRuns` inputs in CI, FUZZ_RUNS in a long run, always seeded. */
export function fuzzParameters(ciRuns: number): fc.Parameters<unknown> {
  const runs = integerFromEnv('FUZZ_RUNS');
  return { seed: FUZZ_SEED, numRuns: runs !== undefined && runs > 0 ? runs : ciRuns, endOnFailure: true };
}

/** Runs `property` on every input and fails when fast-check finds a counterexample. */
export function fuzz<T>(arbitrary: fc.Arbitrary<T>, ciRuns: number, check: (input: T) => void): void {
  fc.assert(
    fc.property(arbitrary, (input) => {
      withinHangBound(() => check(input));
    }),
    fuzzParameters(ciRuns),
  );
}

/**
 * Calls `work` and fails when it took longer than {@link HANG_BOUND_MS} twice in a row: an input
 * that is slow once but fast again met a garbage-collection pause or a busy machine, not a hang.
 */
export function withinHangBound<R>(work: () => R): R {
  let started = performance.now();
  let result = work();
  if (performance.now() - started < HANG_BOUND_MS) return result;
  started = performance.now();
  result = work();
  expect(performance.now() - started, 'one input took longer than the hang bound, twice').toBeLessThan(HANG_BOUND_MS);
  return result;
}

/** Every file of a fixture folder (tests/fixtures/NAME), README excepted. */
export function fixtures(folder: string, suffix = ''): Buffer[] {
  const dir = new URL(`../fixtures/${folder}/`, import.meta.url);
  return readdirSync(dir)
    .filter((name) => name !== 'README.md' && name.endsWith(suffix))
    .sort()
    .map((name) => readFileSync(new URL(name, dir)));
}

/**
 * Pieces of protocol syntax spliced into real messages: markup and JSON structure, entity and
 * character references (a DOCTYPE with an entity: the parsers must refuse it), NUL, terminal
 * escapes and bidi overrides, header folding, percent escapes, numbers past every range, prototype
 * keys, and long runs.
 */
const SYNTAX_TOKENS = [
  '<', '</', '>', '/>', '<a>', '</a>', '<?xml version="1.0"?>', '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>', '&a;', '&amp;',
  '&#0;', '&#x1b;', '&#xFFFFFFFF;', ']]>', '<![CDATA[', '<!--', '-->', 'xmlns:x="urn:x"', 'x:', '"', "'", '=',
  '{', '}', '[', ']', ':', ',', '\\', '\\u0000', '1e999', '-0', '18446744073709551617', 'null', 'true',
  '"__proto__":', '"constructor":', '\u0000', '\r\n', '\r\n ', '\n\n', '\t', '\x1b[2J', '\x1b]0;title\x07', '\u202e',
  '\uFEFF', '\uFFFD', '%00', '%1b', '%', '%%', 'urn:uuid:', 'http://[', 'http://198.18.0.1:99999/', ';', 'realm="',
  'Digest ', 'Basic ', 'nonce=', ',,,,', 'a'.repeat(4096), '<a>'.repeat(500), '['.repeat(500), '\u00e9', '\ud800',
];

type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'token'; at: number; token: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ maxLength: 32 }) }),
  fc.record({ kind: fc.constant('token' as const), at: position, token: fc.constantFrom(...SYNTAX_TOKENS) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 256 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
);

function applyMutation(input: Buffer, m: Mutation): Buffer {
  const at = Math.floor(m.at * (input.length + 1));
  switch (m.kind) {
    case 'flip': {
      if (input.length === 0) return input;
      const out = Buffer.from(input);
      out[Math.min(at, input.length - 1)] = m.byte;
      return out;
    }
    case 'insert':
      return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    case 'token':
      return Buffer.concat([input.subarray(0, at), Buffer.from(m.token, 'utf8'), input.subarray(at)]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.length)]);
    case 'duplicate':
      return Buffer.concat([input.subarray(0, at + m.length), input.subarray(at)]);
    case 'truncate':
      return input.subarray(0, at);
  }
}

/** A real message with 1–8 mutations applied: protocol-shaped input that reaches deep code paths. */
export function mutatedFrom(originals: readonly Buffer[]): fc.Arbitrary<Buffer> {
  if (originals.length === 0) throw new Error('mutatedFrom needs at least one original');
  return fc
    .tuple(fc.constantFrom(...originals), fc.array(mutation, { minLength: 1, maxLength: 8 }))
    .map(([original, mutations]) => mutations.reduce(applyMutation, original));
}

/** Mutated messages, the originals themselves and plain random bytes, mixed. */
export function protocolInput(originals: readonly Buffer[], maxRandomBytes = 2048): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 6, arbitrary: mutatedFrom(originals) },
    { weight: 1, arbitrary: fc.constantFrom(...originals) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: maxRandomBytes }).map((a) => Buffer.from(a)) },
  );
}

/** Text without the characters XML 1.0 cannot carry (§2.2 Char), without surrounding blanks. */
export const xmlSafeText: fc.Arbitrary<string> = fc
  .string({
    unit: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./ ') },
      { weight: 2, arbitrary: fc.constantFrom(...'<>&"\'=;:#%+[]{}()') },
      { weight: 1, arbitrary: fc.constantFrom('é', 'ß', '中', '文', 'Ω') },
    ),
    minLength: 1,
    maxLength: 64,
  })
  .map((s) => s.trim())
  .filter((s) => s.length > 0);

/**
 * Every field value of an observation is a string or a list of strings, and none carries a control
 * or bidirectional formatting character: codecs clean device text at their boundary (safe-text.ts).
 */
export function expectStringFields(fields: Readonly<Record<string, unknown>>): void {
  for (const [name, value] of Object.entries(fields)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      expect(typeof v, `field ${name}`).toBe('string');
      expect(hasUnsafeText(v as string), `field ${name}: ${JSON.stringify(v)}`).toBe(false);
    }
  }
}
