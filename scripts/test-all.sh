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

npm ci --no-audit --no-fund
npm run --silent typecheck
node dist/agent/cli.js fingerprints verify

results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$results" || status=$?
# One plain closing line, whatever the runner printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
exit "$status"
