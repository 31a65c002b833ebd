#!/usr/bin/env node
// Golden comparison for changes to the matcher and classifier's internals (agent/fingerprint/match.ts,
// agent/pipeline/classify.ts, assess.ts…): classifies a fixed set of devices on the compiled agent
// (dist/; `npm run build` first) and writes every result, or compares every result with a file
// written before the change. The output must stay identical: vendor, relation, confidence,
// evidence (with its order), identity (deviceType included), CVE statuses and reasons, policies.
//
//   node scripts/classify-golden.mjs write FILE    one JSON line per device
//   node scripts/classify-golden.mjs check FILE    exit 1 at the first device whose result differs
//   node scripts/classify-golden.mjs freeze INPUTS the devices' inputs, one JSON line each
//   … write|check FILE INPUTS                      classify the frozen INPUTS instead
//
// The devices are built from the rules' examples, so a change to the rules themselves (a rule
// moved to another file, an example added) changes the devices too: freeze the inputs before the
// change and classify the same inputs after it.
//
// The devices: scripts/synthetic-devices.mjs's first SYNTHETIC_DEVICES (what the bench classifies);
// one per example of every rule, alone, with no MAC, and again with the fingerprint taken from the
// observation's own MAC (fingerprintDevice without `macs`); UNIQUE_VALUE_DEVICES whose value no
// other device shows; one per rule file holding all the file's examples as one list value (many
// rules, conflicting vendors, list fields).
import { readFileSync, writeFileSync } from 'node:fs';
import { fingerprintDevice } from '../dist/agent/fingerprint/index.js';
import { loadKnowledge } from '../dist/agent/knowledge/index.js';
import { buildDevice } from '../dist/agent/pipeline/assess.js';
import { identityFieldsOf, mergeObservations } from '../dist/agent/pipeline/merge.js';
import { emittedExamples, emittersOf, ipOf, lcg, observationsOf, SEED } from './synthetic-devices.mjs';

const SYNTHETIC_DEVICES = 20_000;
const UNIQUE_VALUE_DEVICES = 3_000;
/** A fixed time, so the output does not depend on when it ran. */
const AT = '2026-01-01T00:00:00.000Z';
/** Source given to a field no discoverer emits (the matcher reads the rule's source, not this). */
const FALLBACK_SOURCE = 'http-pages';
const MAC_OF_EXAMPLE = '28:57:be:00:00:01';

const [mode, file, frozen] = process.argv.slice(2);
if ((mode !== 'write' && mode !== 'check' && mode !== 'freeze') || !file || (mode === 'freeze' && frozen)) {
  process.stderr.write('usage: node scripts/classify-golden.mjs write|check FILE [INPUTS] | freeze INPUTS\n');
  process.exit(2);
}

const knowledge = loadKnowledge();
const identityFields = identityFieldsOf(knowledge.fields);
const emitter = emittersOf();

/** Each device's input: a merged host (classified whole) or one observation list (fingerprinted only). */
function* inputs() {
  const examples = emittedExamples(knowledge);
  const next = lcg(SEED);
  const observations = [];
  for (let n = 0; n < SYNTHETIC_DEVICES; n++) observations.push(...observationsOf(examples, n, next, AT));
  for (const host of mergeObservations(observations, identityFields)) yield { host };

  let n = SYNTHETIC_DEVICES;
  for (const rule of knowledge.rules) {
    const source = emitter.get(rule.field) ?? FALLBACK_SOURCE;
    for (const example of rule.examples) {
      const ip = ipOf(n++);
      const fields = { [rule.field]: example.value };
      const [host] = mergeObservations([{ source, ip, at: AT, status: 'ok', fields }], identityFields);
      yield { host };
      yield { observations: [{ source, ip, mac: MAC_OF_EXAMPLE, at: AT, status: 'ok', fields }] };
    }
  }
  // Values no other device shows (an example with the device's number after it), more of them
  // than the matcher keeps outcomes of (agent/fingerprint/match.ts), so it starts again meanwhile.
  for (let k = 0; k < UNIQUE_VALUE_DEVICES; k++) {
    const example = examples[k % examples.length];
    const ip = ipOf(n++);
    const fields = { [example.field]: `${example.value} ${k}` };
    const [host] = mergeObservations([{ source: example.source, ip, at: AT, status: 'ok', fields }], identityFields);
    yield { host };
  }
  for (const ruleFile of knowledge.files) {
    const source = emitter.get(ruleFile.field) ?? FALLBACK_SOURCE;
    const values = ruleFile.rules.flatMap((r) => r.examples.map((e) => e.value));
    const ip = ipOf(n++);
    const [host] = mergeObservations([{ source, ip, at: AT, status: 'ok', fields: { [ruleFile.field]: values } }], identityFields);
    yield { host };
  }
}

function resultOf(input) {
  return input.host ? buildDevice(knowledge, input.host) : fingerprintDevice(knowledge, { observations: input.observations });
}

function* frozenInputs(path) {
  for (const line of readFileSync(path, 'utf8').split('\n')) if (line) yield JSON.parse(line);
}

if (mode === 'freeze') {
  const lines = [...inputs()].map((input) => JSON.stringify(input));
  writeFileSync(file, lines.join('\n') + '\n');
  process.stdout.write(`${lines.length} inputs written to ${file}\n`);
  process.exit(0);
}

function* results() {
  for (const input of frozen ? frozenInputs(frozen) : inputs()) yield resultOf(input);
}

const lines = [...results()].map((r) => JSON.stringify(r));
if (mode === 'write') {
  writeFileSync(file, lines.join('\n') + '\n');
  process.stdout.write(`${lines.length} results written to ${file}\n`);
} else {
  const golden = readFileSync(file, 'utf8').split('\n').slice(0, -1);
  const differs = lines.findIndex((line, i) => line !== golden[i]);
  if (differs >= 0 || golden.length !== lines.length) {
    const at = differs >= 0 ? differs : Math.min(golden.length, lines.length);
    process.stderr.write(`result ${at} differs (of ${lines.length}; golden has ${golden.length})\n  golden: ${golden[at]}\n  now:    ${lines[at]}\n`);
    process.exit(1);
  }
  process.stdout.write(`${lines.length} results identical to ${file}\n`);
}
