#!/usr/bin/env bash
# `npm run bench` (issue 10; not part of CI): the agent measured beside nmap on the crowd lab, then
# classification throughput, then start-up. Needs root, nmap and iproute2; writes nothing outside
# the lab's namespaces and .lab-ID/. Results: one JSON document on stdout (BENCHMARKS.md is written
# from it), progress on stderr.
#
#   sudo LAB_ID=x [RUNS=3] [SLOW_RUNS=1] [CROWD_SIZE=1000] [NMAP_LIMIT=600] [WIDE=0] npm run bench
#
# 1. crowd: `lab.sh crowd-up CROWD_SIZE`, then RUNS times each: the agent's default scan of the
#    crowd's /22, `nmap -sT` and `nmap -sV` on the agent's ports (fingerprints/ports.yaml), all in
#    the crowd's scanner namespace (tests/lab/bench/bench.ts); and the same for 198.18.0.0/16, of
#    which the /22 is live (WIDE=0 skips it). The crowd is taken down at the end.
# 2. classification: scripts/bench-classify.mjs (10,000 and 100,000 synthetic devices, no network),
#    run before the crowd comes up.
# The TCP-sweep benchmark of the default lab is scripts/bench-sweep.sh.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
LAB_ID=${LAB_ID:?set LAB_ID: the bench brings up its own crowd (namespaces cctvlab-LAB_ID-*)}
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (network namespaces): sudo LAB_ID=$LAB_ID npm run bench" >&2; exit 2; }
command -v nmap >/dev/null || { echo "bench: nmap not installed (apt-get install -y nmap)" >&2; exit 2; }
[ -f dist/agent/cli.js ] || npm run -s build

out=$(mktemp -d)
trap 'LAB_ID=$LAB_ID bash scripts/lab.sh crowd-down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
# The classification first: right after crowd-down the kernel is still removing a thousand
# interfaces, and the same script then classified at about half the rate of a settled machine.
node --expose-gc scripts/bench-classify.mjs >"$out/classify.jsonl"
LAB_ID=$LAB_ID bash scripts/lab.sh crowd-up "${CROWD_SIZE:-1000}" >&2
build=.lab-$LAB_ID/build
node "$build/tests/lab/bench/bench.js" >"$out/crowd.json"
LAB_ID=$LAB_ID bash scripts/lab.sh crowd-down >&2
node -e '
const fs = require("fs");
const crowd = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const classify = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const machine = { cpus: require("os").cpus().length, cpu: require("os").cpus()[0]?.model, memGb: Math.round(require("os").totalmem() / 2 ** 30), kernel: require("os").release(), node: process.version, load: require("os").loadavg().map((x) => +x.toFixed(2)) };
console.log(JSON.stringify({ machine, ...crowd, classify }, null, 1));
' "$out/crowd.json" "$out/classify.jsonl"
