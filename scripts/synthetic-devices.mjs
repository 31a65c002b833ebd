// Synthetic devices built from the fingerprint examples, shared by scripts/bench-classify.mjs (how
// fast they are classified) and scripts/classify-golden.mjs (that a change leaves the result alone).
//
// Each device gets RULES_PER_DEVICE observations, each one rule example chosen by a fixed
// pseudo-random sequence (the same devices every run), plus a neighbour-table observation with its
// own MAC (a lab profile's OUI, so the IEEE registrant lookup runs too).
import { discoverers } from '../dist/agent/discovery/index.js';

export const RULES_PER_DEVICE = 4;
/** OUIs of the lab profiles (Hikvision, Dahua, Axis, Hanwha; tests/lab/profiles). */
const OUIS = ['28:57:be', '08:ed:ed', 'ac:cc:8e', '00:09:18'];

/** Field → the discoverer that emits it (the first one listed). */
export function emittersOf() {
  const emitter = new Map();
  for (const d of discoverers) for (const f of d.emits) if (!emitter.has(f)) emitter.set(f, d.name);
  return emitter;
}

/** Every example value of every rule whose field some discoverer emits, with that discoverer's name. */
export function emittedExamples(knowledge) {
  const emitter = emittersOf();
  return knowledge.rules.flatMap((rule) =>
    emitter.has(rule.field) ? rule.examples.map((e) => ({ field: rule.field, value: e.value, source: emitter.get(rule.field) })) : [],
  );
}

/** A fixed pseudo-random sequence in [0, 1) (a linear congruential generator). */
export function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

export const SEED = 0x5eedc0de;

export function ipOf(n) {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function macOf(n) {
  const octet = (shift) => ((n >> shift) & 255).toString(16).padStart(2, '0');
  return `${OUIS[n % OUIS.length]}:${octet(16)}:${octet(8)}:${octet(0)}`;
}

/** The observations of synthetic device `n`: its neighbour-table entry and RULES_PER_DEVICE examples drawn from `next`. */
export function observationsOf(examples, n, next, at) {
  const ip = ipOf(n);
  const out = [{ source: 'neighbour-table', ip, mac: macOf(n), at, status: 'ok', fields: { 'neighbour.fresh': 'true' } }];
  for (let k = 0; k < RULES_PER_DEVICE; k++) {
    const e = examples[Math.floor(next() * examples.length)];
    out.push({ source: e.source, ip, at, status: 'ok', fields: { [e.field]: e.value } });
  }
  return out;
}
