#!/usr/bin/env bash
# A /16 scan in the lab (issue 10, not part of CI: it takes minutes): the scanner's interface is
# given a /16 prefix, so all 65,534 addresses of 198.18.0.0/16 are on its link and only the lab's
# devices are live; the agent's default scan of the /16 runs in the scanner's namespace. Prints
# one JSON line: wall time, peak RSS (/usr/bin/time -v), devices found, scan.sweep and the agent's
# host-discovery log line. The prefix is put back afterwards. Needs root and a running lab:
#
#   sudo LAB_ID=x bash scripts/lab.sh up
#   sudo LAB_ID=x [RANGE=198.18.0.0/16] [AGENT="node dist/agent/cli.js"] bash scripts/scan-wide.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
LAB_ID=${LAB_ID:?set LAB_ID: the lab whose scanner namespace is used (cctvlab-LAB_ID-scan)}
RANGE=${RANGE:-198.18.0.0/16}
AGENT=${AGENT:-node dist/agent/cli.js}
NS=cctvlab-$LAB_ID-scan
SCAN_IP=198.18.0.1
[ "$(id -u)" -eq 0 ] || { echo "scan-wide: needs root (network namespaces)" >&2; exit 2; }
[ -e "/run/netns/$NS" ] || { echo "scan-wide: no namespace $NS: run LAB_ID=$LAB_ID bash scripts/lab.sh up first" >&2; exit 2; }
[ -f dist/agent/cli.js ] || npm run -s build

out=$(mktemp -d)
restore() {
  ip -n "$NS" addr del "$SCAN_IP/16" dev eth0 2>/dev/null || true
  ip -n "$NS" addr replace "$SCAN_IP/24" dev eth0
  rm -rf "$out"
}
trap restore EXIT
ip -n "$NS" addr del "$SCAN_IP/24" dev eth0
ip -n "$NS" addr replace "$SCAN_IP/16" dev eth0
ip -n "$NS" neigh flush dev eth0 nud all 2>/dev/null || true

t0=$EPOCHREALTIME
# shellcheck disable=SC2086 # AGENT is a command line
ip netns exec "$NS" /usr/bin/time -v -o "$out/time" $AGENT scan "$RANGE" --json --site wide --store "$out/store" >"$out/doc.json" 2>"$out/log" || true
t1=$EPOCHREALTIME
node -e '
const fs = require("fs");
const [dir, t0, t1] = process.argv.slice(1);
const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(fs.readFileSync(dir + "/time", "utf8"));
let doc = null;
try { doc = JSON.parse(fs.readFileSync(dir + "/doc.json", "utf8")); } catch {}
const log = fs.readFileSync(dir + "/log", "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const line = (msg) => log.find((l) => l.msg === msg) ?? null;
console.log(JSON.stringify({
  range: process.argv[4], wallS: +(t1 - t0).toFixed(1), peakRssMb: rss ? Math.round(rss[1] / 1024) : null,
  devices: doc ? doc.devices.length : null, sweep: doc ? doc.scan.sweep ?? null : null,
  hostDiscovery: line("host discovery finished"), tcpSweep: line("TCP connect sweep finished"),
  errors: log.filter((l) => l.level >= 50).map((l) => l.msg),
}));
' "$out" "$t0" "$t1" "$RANGE"
