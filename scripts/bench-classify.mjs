#!/usr/bin/env node
// Classification throughput (issue 10 target: 10,000 devices at >= 50,000 devices/s, RSS growth
// per device small and linear), on the compiled agent (dist/, built by `npm ci`): synthetic devices
// built from the examples of every rule in fingerprints/rules/*.yaml, run through what a scan does
// after its network phases (agent/pipeline/scan.ts): merge observations into hosts, then
// fingerprint, classify, flag CVEs and name policies per host (buildDevice). No network.
//
//   node --expose-gc scripts/bench-classify.mjs [COUNT...]   default 10000 100000; one JSON line per COUNT,
//   each the median of 3 repetitions after a warm-up (wall and CPU time: the machine may be shared)
//   node --expose-gc scripts/bench-classify.mjs --cold COUNT  one run in a fresh process, no warm-up:
//   what a scan's first COUNT devices cost, JIT compilation and the matcher's first sight of each value
//   included (the warmed figure is the steady rate of an agent that has classified devices before)
//
// The devices are scripts/synthetic-devices.mjs's. Devices are kept until the count is reached, so
// the RSS growth measured is what holding N classified devices costs.
import { loadKnowledge } from '../dist/agent/knowledge/index.js';
import { buildDevice } from '../dist/agent/pipeline/assess.js';
import { identityFieldsOf, mergeObservations } from '../dist/agent/pipeline/merge.js';
import { emittedExamples, emittersOf, lcg, observationsOf, SEED } from './synthetic-devices.mjs';

/** Merge works on one batch at a time, as a streamed scan would hand it hosts. */
const BATCH = 1000;

const knowledge = loadKnowledge();
const identityFields = identityFieldsOf(knowledge.fields);
const examples = emittedExamples(knowledge);
const emitter = emittersOf();
const skippedRules = knowledge.rules.filter((r) => !emitter.has(r.field)).length;

/** Merges and classifies `count` devices, BATCH at a time; keeps every device it built. */
function classifyMany(count) {
  const next = lcg(SEED);
  const at = new Date().toISOString();
  const kept = [];
  let observations = 0;
  const spent = { mergeMs: 0, classifyMs: 0, classifyCpuMs: 0 };
  for (let start = 0; start < count; start += BATCH) {
    const batch = [];
    for (let n = start; n < Math.min(count, start + BATCH); n++) batch.push(...observationsOf(examples, n, next, at));
    observations += batch.length;
    const t0 = performance.now();
    const hosts = mergeObservations(batch, identityFields);
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    for (const host of hosts) kept.push(buildDevice(knowledge, host));
    const cpu = process.cpuUsage(cpu0);
    spent.mergeMs += t1 - t0;
    spent.classifyMs += performance.now() - t1;
    spent.classifyCpuMs += (cpu.user + cpu.system) / 1000;
  }
  return { kept, observations, spent };
}

const cold = process.argv[2] === '--cold';
const counts = process.argv.slice(cold ? 3 : 2).map(Number);
const REPEATS = cold ? 1 : 3;
if (!cold) classifyMany(2000); // warm-up: JIT, lazily compiled patterns, the values the matcher has seen
for (const count of counts.length ? counts : [10_000, 100_000]) {
  const runs = [];
  for (let r = 0; r < REPEATS; r++) {
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const { kept, observations, spent } = classifyMany(count);
    globalThis.gc?.();
    // The devices are still referenced here: what they hold is the heap's growth.
    const heap1 = process.memoryUsage().heapUsed;
    runs.push({ ...spent, observations, linked: kept.filter((d) => d.classification.linkedVendor !== null).length, heapGrowth: heap1 - heap0 });
  }
  const median = (f) => runs.map(f).sort((a, b) => a - b)[REPEATS >> 1];
  const last = runs[runs.length - 1];
  process.stdout.write(
    JSON.stringify({
      devices: count,
      ...(cold ? { cold: true } : {}),
      observations: last.observations,
      examples: examples.length,
      rulesWithoutEmitter: skippedRules,
      linked: last.linked,
      // Classification: fingerprint, classify, CVEs and policies per device (buildDevice).
      classifyMs: runs.map((r) => Math.round(r.classifyMs)),
      devicesPerSecond: Math.round(count / (median((r) => r.classifyMs) / 1000)),
      devicesPerCpuSecond: Math.round(count / (median((r) => r.classifyCpuMs) / 1000)),
      // Merging observations into hosts (agent/pipeline/merge.ts), before classification.
      mergeMs: runs.map((r) => Math.round(r.mergeMs)),
      // Heap held by the classified devices (measured after a full GC, devices still referenced).
      heapPerDeviceKb: +(median((r) => r.heapGrowth) / count / 1024).toFixed(2),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    }) + '\n',
  );
}
