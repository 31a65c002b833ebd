#!/usr/bin/env bash
# The TCP sweep, measured in the lab (not part of CI): the agent's default scan of a /22 that holds
# the lab's /24 and 768 routed addresses nobody answers, beside nmap on the same ports and range in
# the same namespace (`nmap -sT` at its defaults, and `nmap -sT -Pn`, stopped after NMAP_PN_LIMIT
# seconds), and the default scan of the lab /24. Needs root, nmap and a lab that is up
# (`LAB_ID=x bash scripts/lab.sh up`); prints one line per run.
#
#   LAB_ID=x [NMAP_PN_LIMIT=120] [LIVE=1] [NMAP=0] [AGENT=path/cli.js] [AGENT_ARGS='--rate 5000'] bash scripts/bench-sweep.sh [RUNS]
#
# NMAP=0 skips nmap; AGENT runs another build of the agent (an older commit's, for a before/after);
# AGENT_ARGS are added to each agent scan.
#
# LIVE=1 makes the 768 routed addresses live instead (issue 10's trial: many hosts answering HTTP
# on port 80): the gateway namespace takes them all as its own (`ip route add local …/24 dev lo`,
# ip-route(8)), so its kernel answers each one's closed ports with a RST, and a listener there
# accepts port 80 on every one of them.
#
# The routed addresses: a gateway namespace (cctvlab-ID-gw, 198.18.3.254) forwards nothing for
# 198.18.0.0/22 outside the /24 (a blackhole route: dropped without an ICMP answer), so each of them
# costs a full connect timeout, as a dead address behind a router does. The scanner reaches it with
# one route, so the kernel's neighbour table gets one entry for it, not one per dead address.
# Removed again at the end.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
RUNS=${1:-3}
LAB_ID=${LAB_ID:?set LAB_ID to the lab to measure in}
PREFIX=cctvlab-$LAB_ID-
SCAN_NS=${PREFIX}scan
GW_NS=${PREFIX}gw
PORTS=$(node -e 'const y=require("yaml");const t=y.parse(require("fs").readFileSync("fingerprints/ports.yaml","utf8"));console.log(t.ports.map(p=>p.port).join(","))')
RANGE=198.18.0.0/22
AGENT=${AGENT:-dist/agent/cli.js}
NMAP_PN_LIMIT=${NMAP_PN_LIMIT:-120}

[ -e "/run/netns/$SCAN_NS" ] || { echo "no lab $LAB_ID: LAB_ID=$LAB_ID bash scripts/lab.sh up" >&2; exit 2; }
command -v nmap >/dev/null || { echo "nmap not installed (apt-get install -y nmap)" >&2; exit 2; }

LISTENER_PID=
cleanup() {
  [ -z "$LISTENER_PID" ] || kill "$LISTENER_PID" 2>/dev/null || true
  ip -n "$SCAN_NS" route del "$RANGE" via 198.18.3.254 2>/dev/null || true
  ip -n "$SCAN_NS" route del 198.18.3.254/32 dev eth0 2>/dev/null || true
  ip netns del "$GW_NS" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$GW_NS"
ip -n "${PREFIX}sw" link add v-gw type veth peer name eth0 netns "$GW_NS"
ip -n "${PREFIX}sw" link set v-gw master br0 up
ip -n "$GW_NS" addr add 198.18.3.254/32 dev eth0
ip -n "$GW_NS" link set eth0 up
ip -n "$GW_NS" route add 198.18.0.0/24 dev eth0
ip -n "$GW_NS" route add blackhole "$RANGE"
ip netns exec "$GW_NS" sysctl -qw net.ipv4.ip_forward=1
if [ "${LIVE:-}" = 1 ]; then
  for net in 198.18.1.0/24 198.18.2.0/24 198.18.3.0/24; do ip -n "$GW_NS" route add local "$net" dev lo; done
  ip -n "$GW_NS" link set lo up
  ip netns exec "$GW_NS" node -e 'require("net").createServer((s) => s.destroy()).listen(80)' &
  LISTENER_PID=$!
  sleep 1
fi
ip -n "$SCAN_NS" route add 198.18.3.254/32 dev eth0
ip -n "$SCAN_NS" route add "$RANGE" via 198.18.3.254

store=$(mktemp -d)
agent_scan() { # label, extra args...
  local label=$1 t0 t1 sweep devices
  shift
  t0=$(date +%s%N)
  # shellcheck disable=SC2086 # AGENT_ARGS is a list of words
  ip netns exec "$SCAN_NS" node "$AGENT" scan "$@" ${AGENT_ARGS:-} --json --site bench --store "$store" >"$store/out.json" 2>"$store/err.log"
  t1=$(date +%s%N)
  sweep=$(grep '"TCP connect sweep finished"' "$store/err.log" | head -1 | node -e 'const l=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(`sweep ${l.ms} ms (hosts ${l.hosts}, absent ${l.absentHosts}, open ${l.open})`)')
  devices=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).devices.length)' "$store/out.json")
  echo "$label: whole scan $(( (t1 - t0) / 1000000 )) ms; $sweep; $devices devices; EMFILE lines: $(grep -c EMFILE "$store/err.log" || true)"
}
for run in $(seq 1 "$RUNS"); do
  ip -n "$SCAN_NS" neigh flush all
  agent_scan "run $run agent default scan $RANGE" "$RANGE"
  for pn in "" -Pn; do
    [ "${NMAP:-1}" != 0 ] || break
    ip -n "$SCAN_NS" neigh flush all
    t0=$(date +%s%N)
    up=$(timeout "$NMAP_PN_LIMIT" ip netns exec "$SCAN_NS" nmap -n -sT $pn -p "$PORTS" "$RANGE" -oG - 2>/dev/null | grep -c 'Ports:.*/open/' || true)
    t1=$(date +%s%N)
    echo "run $run nmap -n -sT $pn -p $PORTS $RANGE: $(( (t1 - t0) / 1000000 )) ms; $up hosts with an open port (stopped at ${NMAP_PN_LIMIT} s)"
  done
  ip -n "$SCAN_NS" neigh flush all
  agent_scan "run $run agent default scan 198.18.0.0/24" 198.18.0.0/24
done
rm -rf "$store"
