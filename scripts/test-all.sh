#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: type-check, the fingerprint verifier, unit tests and
# the network-namespace lab tests. Needs root (the lab creates network namespaces) and a Debian-like
# system (apt-get) when a system package it needs is missing. This is the README's test command; CI runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test-all: the lab tests create network namespaces and need root: run 'sudo bash scripts/test-all.sh'" >&2
  exit 2
fi
# iproute2: the lab and the neighbour table; chromium: the HTML report test opens the report in
# headless Chromium (tests/integration/report.test.ts); openssl: the TLS tests make certificates.
if ! command -v ip >/dev/null 2>&1 || ! ip -json -stats neigh show >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ] ||
  ! command -v openssl >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq iproute2 chromium openssl >/dev/null
fi

# npm ci builds dist/ (the prepare script: tsc -p tsconfig.json, which type-checks agent/).
npm ci --no-audit --no-fund

# Two lanes at once. The lab lane (root: network namespaces) mostly waits on its discovery windows
# and is the longer one; the other lane type-checks agent/ and tests/ together
# (tests/tsconfig.json) and then runs the unit tests with two workers, at a lower priority
# (nice) so that the lab's simulators and timing-sensitive windows get the CPU first. The
# fingerprint verifier (`fingerprints verify`) runs inside the unit tests
# (tests/unit/cli-fingerprints.test.ts). The unit tests run as an ordinary user (nobody) where it
# can read the checkout, so that tests of what a user may not do (write into a read-only folder)
# run instead of being skipped as root; it gets its own HOME and TMPDIR. A checkout it cannot read
# (one in a private folder) runs them as root, and the closing line counts the skipped test.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
mkdir "$work/unit"
vitest=node_modules/.bin/vitest
as_nobody=(setpriv --reuid=nobody --regid=65534 --clear-groups)
if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1 &&
  "${as_nobody[@]}" sh -c "cd '$PWD' && test -r package.json -a -r dist/agent/cli.js -a -x $vitest" 2>/dev/null; then
  chown nobody "$work/unit"
  unit_as=("${as_nobody[@]}" env HOME="$work/unit" TMPDIR="$work/unit")
else
  echo "test-all: the user nobody cannot read this checkout: the unit tests run as root, and those that need an ordinary user are skipped" >&2
  unit_as=(env TMPDIR="$work/unit")
fi
(
  renice -n 10 -p "$BASHPID" >/dev/null
  npx tsc -p tests/tsconfig.json --noEmit &&
    "${unit_as[@]}" "$vitest" run --project unit --configLoader runner --maxWorkers=2 \
      --reporter=default --reporter=json --outputFile="$work/unit/results.json"
) >"$work/unit.log" 2>&1 &
unit_pid=$!
status=0
"$vitest" run --project lab --reporter=default --reporter=json --outputFile="$work/lab.json" || status=$?
lab_status=$status
unit_status=0
wait "$unit_pid" || unit_status=$?
echo "--- type-check and unit tests (run as $([ "${unit_as[0]}" = setpriv ] && echo nobody || echo root)) ---"
cat "$work/unit.log"
[ "$unit_status" -eq 0 ] || status=$unit_status

# One plain closing line for both runs, whatever the runners printed above it.
UNIT_EXIT=$unit_status LAB_EXIT=$lab_status node -e '
  const fs = require("fs");
  const runs = process.argv.slice(1).filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const sum = (key) => runs.reduce((n, r) => n + r[key], 0);
  const skipped = sum("numPendingTests") + sum("numTodoTests");
  const missing = 2 - runs.length;
  // Where the time goes: the five slowest files of each run (the suite has a time budget).
  for (const run of runs) {
    const files = run.testResults.map((t) => [(t.endTime - t.startTime) / 1000, t.name.replace(/.*\/tests\//, "tests/")]);
    files.sort((a, b) => b[0] - a[0]);
    console.log("slowest: " + files.slice(0, 5).map(([s, name]) => `${name} ${s.toFixed(1)} s`).join(", "));
  }
  // CI shows only the end of what was printed: name each failed test there, with the start of its error.
  for (const run of runs) {
    for (const file of run.testResults) {
      const name = file.name.replace(/.*\/tests\//, "tests/");
      // Its first lines (what failed) and its last (the end of a log the message carries).
      const start = (text) => {
        const lines = (text ?? "").split("\n").map((line) => line.slice(0, 400));
        return (lines.length > 14 ? [...lines.slice(0, 4), "…", ...lines.slice(-10)] : lines).join("\n    ");
      };
      const failed = file.assertionResults.filter((a) => a.status === "failed");
      for (const test of failed) console.log(`FAILED ${name} > ${test.fullName}\n    ${start(test.failureMessages[0])}`);
      // A file that failed outside its tests (a hook, an import) has no failed test to name.
      if (file.status === "failed" && failed.length === 0) console.log(`FAILED ${name}\n    ${start(file.message)}`);
    }
  }
  // Vitest fails a run that caught an error outside every test (an uncaught exception of a server
  // a test started) though each test passed, and its results do not say so: its exit status does.
  for (const [lane, code] of [["unit", process.env.UNIT_EXIT], ["lab", process.env.LAB_EXIT]]) {
    if (code !== "0") console.log(`FAILED: the ${lane} run exited ${code}` + (sum("numFailedTests") === 0 ? " though no test failed: an error outside the tests (\"Unhandled Errors\" above)" : ""));
  }
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed` + (skipped ? `, ${skipped} skipped` : "") +
    (missing ? ` (${missing} of the 2 runs wrote no results)` : ""));
' "$work/unit/results.json" "$work/lab.json" || true
exit "$status"
