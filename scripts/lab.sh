#!/usr/bin/env bash
# The cctv-agent test lab: simulated CCTV devices in Linux network namespaces.
#
#   bash scripts/lab.sh up            build the simulators, create the namespaces, start every device
#   bash scripts/lab.sh down          stop the recorded simulators, delete the namespaces
#   bash scripts/lab.sh status        show namespaces and simulators (exit 0 = fully up, 3 = not)
#   bash scripts/lab.sh stop NAME     stop one simulator (its namespace stays)
#   bash scripts/lab.sh start NAME    start one simulator again
#   bash scripts/lab.sh crowd-up [N]  the crowd: N devices (default 1000) and a proxy-ARP segment on a /22
#   bash scripts/lab.sh crowd-down    stop the crowd's processes, delete its namespaces
#
# Topology (nothing is created in the root namespace; veths are made from inside cctvlab-sw):
#   cctvlab-sw    bridge br0 (mcast_snooping 0), one port v-NAME per host
#   cctvlab-scan  the scanner host, eth0 198.18.0.1/24 and fdcc:7a6e:1ab::1/64, MAC 02:00:00:00:00:01
#   cctvlab-NAME  one per tests/lab/profiles/NAME.json, eth0 = the profile's ip/24 and mac, plus
#                 the profile's `aliases` on eth0 (one MAC for many addresses: a proxy-ARP segment)
#                 and its `nics` as eth1… on ports vK-NAME (one device with several interfaces); a
#                 `misaddressed` profile's ip lies outside 198.18.0.0/24 (a factory default such as
#                 192.168.1.64) and it gets an on-link route to 198.18.0.0/24 on eth0, no more
# Every host: lo up, route 224.0.0.0/4 dev eth0, IPv6 on with duplicate address detection off
# (ipv6_on), so each interface has its EUI-64 link-local address at once; a profile's `ipv6.ula`
# adds a unique-local address (fdcc:7a6e:1ab::/64), and an IPv6-only profile (its ip is its
# link-local address) gets no IPv4 address. A profile with a `dropTcp` key (the tarpit) also
# gets its outgoing TCP routed into a blackhole (drop_tcp): it answers ARP and UDP, never a SYN.
#
# State lives in .lab/ (gitignored): build/ (compiled simulators, laid out like the repository, as they
# import agent codecs), pids/NAME.pid, logs/NAME.log,
# run/NAME.ready (written by a simulator when its sockets are open), hosts (NAME IP MAC of what
# `up` created). Commands are serialised with flock on .lab/lock.
# Needs root and iproute2. Environment: LAB_READY_TIMEOUT (seconds, default 20).
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
REPO_ROOT=$PWD

# LAB_ID runs a second, independent lab beside the default one (namespaces cctvlab-ID-*, state in
# .lab-ID/), so two engineers or test runs on one machine do not tear down each other's lab.
LAB_ID=${LAB_ID:-}
[[ -z $LAB_ID || $LAB_ID =~ ^[a-z0-9]{1,6}$ ]] || { echo "lab.sh: LAB_ID must be 1-6 lower-case letters or digits" >&2; exit 2; }
PREFIX=cctvlab-${LAB_ID:+$LAB_ID-}
SW=${PREFIX}sw
SCAN_NAME=scan
SCAN_IP=198.18.0.1
SCAN_MAC=02:00:00:00:00:01
SCAN_ULA=fdcc:7a6e:1ab::1
PROFILES_DIR=tests/lab/profiles
LAB_DIR=.lab${LAB_ID:+-$LAB_ID}
BUILD_DIR=$LAB_DIR/build
SIM_JS=$BUILD_DIR/tests/lab/sim/simulator.js
LIST_JS=$BUILD_DIR/tests/lab/sim/list-profiles.js
PID_DIR=$LAB_DIR/pids
LOG_DIR=$LAB_DIR/logs
RUN_DIR=$LAB_DIR/run
HOSTS_FILE=$LAB_DIR/hosts
READY_TIMEOUT=${LAB_READY_TIMEOUT:-20}

CMD=${1:-}

die() {
  echo "lab.sh: error: $*" >&2
  exit 1
}
note() { echo "lab.sh: $*" >&2; }

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it creates network namespaces): sudo bash scripts/lab.sh $CMD"
  command -v ip >/dev/null 2>&1 || die "'ip' (iproute2) not found"
  ip netns list >/dev/null 2>&1 || die "'ip netns list' failed: network namespaces are not usable here"
}

lock() {
  mkdir -p "$LAB_DIR"
  exec 9>"$LAB_DIR/lock"
  flock -w 120 9 || die "another lab.sh is still running (lock $LAB_DIR/lock)"
}

ns_exists() { [ -e "/run/netns/$1" ]; }

# ip wrapper: on failure, say which command failed.
run_ip() {
  local out
  if ! out=$(ip "$@" 2>&1); then
    die "'ip $*' failed: $out"
  fi
}

valid_name() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,12}$ ]]; }

# Names of the devices the repo defines (file basenames), no JSON parsing needed.
profile_names() {
  local f
  for f in "$PROFILES_DIR"/*.json; do
    [ -e "$f" ] || continue
    f=${f##*/}
    echo "${f%.json}"
  done
}

# Every device name the lab may have created: profiles, what `up` recorded, pid files.
known_names() {
  {
    profile_names
    [ -f "$HOSTS_FILE" ] && awk '{print $1}' "$HOSTS_FILE"
    local p
    for p in "$PID_DIR"/*.pid; do
      [ -e "$p" ] || continue
      p=${p##*/}
      echo "${p%.pid}"
    done
  } | sort -u | while read -r n; do valid_name "$n" && [ "$n" != "$SCAN_NAME" ] && [ "$n" != sw ] && echo "$n"; done
  return 0
}

build() {
  local tsc=node_modules/.bin/tsc
  [ -x "$tsc" ] || die "$tsc not found: run npm install first"
  note "building simulators (tsc -p tests/lab/tsconfig.json -> $BUILD_DIR)"
  "$tsc" -p tests/lab/tsconfig.json --outDir "$BUILD_DIR" || die "simulator build failed"
}

# ipv6_on NS: IPv6 on, and duplicate address detection (RFC 4862 §5.4) off for the interfaces made
# afterwards, so a link-local address is usable as soon as its link is up rather than ~1 s later
# (tentative addresses cannot be bound); every MAC of the lab is unique, so no address can clash.
# The kernel skips DAD only when both `all` and the interface say so (addrconf_dad_begin in
# torvalds/linux net/ipv6/addrconf.c); `default` is what a new interface of the namespace copies.
ipv6_on() {
  ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null || die "cannot set the IPv6 sysctls in $1"
}

# add_port NS VETH IF MAC IP: interface IF of namespace NS, the peer of bridge port VETH. Idempotent.
# An IPv6 IP is the link-local address the kernel derives from MAC: nothing to add.
add_port() {
  local ns=$1 veth=$2 dev=$3 mac=$4 ip=$5
  if ! ip -n "$SW" link show dev "$veth" >/dev/null 2>&1; then
    # A stale IF (peer of a veth whose bridge side is gone) cannot exist: deleting one end
    # deletes both. But an IF left by something else would make the add fail: remove it.
    ip -n "$ns" link del dev "$dev" >/dev/null 2>&1 || true
    run_ip -n "$SW" link add "$veth" type veth peer name "$dev" netns "$ns"
  fi
  run_ip -n "$SW" link set "$veth" master br0 up
  run_ip -n "$ns" link set dev "$dev" address "$mac"
  [[ $ip == *:* ]] || run_ip -n "$ns" addr replace "$ip/24" dev "$dev"
  run_ip -n "$ns" link set dev "$dev" up
}

# add_host NAME IP MAC [aliases=IP,IP…] [nics=IP/MAC,IP/MAC…] [drop-tcp] [ula=IPV6] [onlink=CIDR]:
# namespace cctvlab-NAME with eth0 on the bridge, the aliases as more addresses of eth0, the nics
# as eth1…, with drop-tcp every TCP packet it sends blackholed (drop_tcp), the ula as a /64 of eth0,
# and with onlink=CIDR a route to CIDR on eth0 with no gateway (a misaddressed device, IP outside
# the lab subnet, answering the scanner on the link from its foreign address). Idempotent.
add_host() {
  local name=$1 ip=$2 mac=$3 ns=$PREFIX$1 aliases= nics= ula= token alias nic k=0 drop= onlink=
  for token in "${@:4}"; do
    case $token in
    aliases=*) aliases=${token#aliases=} ;;
    nics=*) nics=${token#nics=} ;;
    ula=*) ula=${token#ula=} ;;
    drop-tcp) drop=1 ;;
    onlink=*) onlink=${token#onlink=} ;;
    *) die "profile $name: unknown lab option '$token'" ;;
    esac
  done
  ns_exists "$ns" || run_ip netns add "$ns"
  ipv6_on "$ns"
  add_port "$ns" "v-$name" eth0 "$mac" "$ip"
  run_ip -n "$ns" link set dev lo up
  run_ip -n "$ns" route replace 224.0.0.0/4 dev eth0
  [ -z "$ula" ] || run_ip -n "$ns" addr replace "$ula/64" dev eth0 nodad
  for alias in ${aliases//,/ }; do run_ip -n "$ns" addr replace "$alias/24" dev eth0; done
  [ -z "$onlink" ] || run_ip -n "$ns" route replace "$onlink" dev eth0
  [ -z "$drop" ] || drop_tcp "$name"
  [ -n "$nics" ] || return 0
  # Several interfaces on one subnet behave as separate NICs only when each answers ARP for its own
  # address alone and announces the address it sends from (arp_ignore=1, arp_announce=2:
  # https://docs.kernel.org/networking/ip-sysctl.html), and a reply leaves by the interface
  # that holds its source address (one routing table per extra address, chosen by `ip rule from`).
  ip netns exec "$ns" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 >/dev/null ||
    die "cannot set the ARP sysctls in $ns"
  for nic in ${nics//,/ }; do
    k=$((k + 1))
    add_port "$ns" "v$k-$name" "eth$k" "${nic#*/}" "${nic%/*}"
    run_ip -n "$ns" route replace "${ip%.*}.0/24" dev "eth$k" src "${nic%/*}" table $((100 + k))
    ip -n "$ns" rule del from "${nic%/*}" table $((100 + k)) >/dev/null 2>&1 || true
    run_ip -n "$ns" rule add from "${nic%/*}" table $((100 + k))
  done
}

# drop_tcp NAME: every TCP packet the device sends (SYN-ACK, RST) goes to a blackhole route, while
# ARP and UDP are untouched: policy routing on the IP protocol (ip-rule(8) ipproto), no firewall
# needed. Local traffic is unaffected (the local table's rule, preference 0, comes first). Idempotent.
DROP_TCP_TABLE=100
drop_tcp() {
  local ns=$PREFIX$1
  [ -n "$(ip -n "$ns" rule show pref "$DROP_TCP_TABLE")" ] || run_ip -n "$ns" rule add pref "$DROP_TCP_TABLE" ipproto tcp lookup "$DROP_TCP_TABLE"
  run_ip -n "$ns" route replace blackhole default table "$DROP_TCP_TABLE"
}

pid_file() { echo "$PID_DIR/$1.pid"; }
ready_file() { echo "$RUN_DIR/$1.ready"; }

# True when PID is alive (not a zombie) and is the simulator of device NAME.
is_sim() {
  local pid=$1 name=$2 state cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"sim/simulator.js $PROFILES_DIR/$name.json"* ]]
}

sim_pid() {
  local f
  f=$(pid_file "$1")
  [ -f "$f" ] && cat "$f" || true
}

sim_running() {
  local pid
  pid=$(sim_pid "$1")
  [ -n "$pid" ] && is_sim "$pid" "$1"
}

# start_sim NAME [fresh]: with "fresh", the device's log starts empty.
start_sim() {
  local name=$1 ns=$PREFIX$1 pid
  ns_exists "$ns" || die "namespace $ns does not exist: run 'bash scripts/lab.sh up' first"
  [ -f "$SIM_JS" ] || die "$SIM_JS missing: run 'bash scripts/lab.sh up' (it builds the simulators)"
  if sim_running "$name"; then
    note "$name: already running (pid $(sim_pid "$name"))"
    return 0
  fi
  mkdir -p "$PID_DIR" "$LOG_DIR" "$RUN_DIR"
  rm -f "$(ready_file "$name")"
  if [ "${2:-}" = fresh ]; then : >"$LOG_DIR/$name.log"; fi
  # `ip netns exec` execs the command (no fork), so $! is the simulator's own PID.
  # 9>&-: the simulator must not inherit (and hold) the lab lock.
  ip netns exec "$ns" "$NODE" "$SIM_JS" "$PROFILES_DIR/$name.json" --ready-file "$(ready_file "$name")" \
    </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$(pid_file "$name")"
  note "$name: started pid $pid in $ns (log $LOG_DIR/$name.log)"
}

# wait_ready NAME...: until every simulator has written its ready file (bounded).
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) name pending pid
  while :; do
    pending=()
    for name in "$@"; do
      if [ -f "$(ready_file "$name")" ]; then continue; fi
      pid=$(sim_pid "$name")
      if ! { [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && [ "$(awk '{print $3}' "/proc/$pid/stat")" != Z ]; }; then
        echo "----- $LOG_DIR/$name.log (last 20 lines) -----" >&2
        tail -n 20 "$LOG_DIR/$name.log" >&2 || true
        die "simulator $name (pid ${pid:-?}) exited before it was ready"
      fi
      pending+=("$name")
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      for name in "${pending[@]}"; do
        echo "----- $LOG_DIR/$name.log (last 20 lines) -----" >&2
        tail -n 20 "$LOG_DIR/$name.log" >&2 || true
      done
      die "simulators not ready after ${READY_TIMEOUT}s: ${pending[*]}"
    fi
    sleep 0.05
  done
}

stop_sim() {
  local name=$1 pid i
  pid=$(sim_pid "$name")
  if [ -z "$pid" ]; then
    note "$name: not running (no pid file)"
    rm -f "$(ready_file "$name")"
    return 0
  fi
  if is_sim "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # up to 5 s
      is_sim "$pid" "$name" || break
      sleep 0.05
    done
    if is_sim "$pid" "$name"; then
      note "$name: pid $pid ignored SIGTERM for 5 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do
        is_sim "$pid" "$name" || break
        sleep 0.05
      done
    fi
    is_sim "$pid" "$name" && die "$name: pid $pid is still alive"
    note "$name: stopped pid $pid"
  else
    note "$name: recorded pid $pid is not running (stale pid file removed)"
  fi
  rm -f "$(pid_file "$name")" "$(ready_file "$name")"
}

cmd_up() {
  require_root
  lock
  local t0=$EPOCHREALTIME
  NODE=$(command -v node) || die "node not found in PATH"
  build
  local hosts
  hosts=$("$NODE" "$LIST_JS" "$PROFILES_DIR") || die "invalid device profiles (see above)"

  ns_exists "$SW" || run_ip netns add "$SW"
  ipv6_on "$SW"
  ip -n "$SW" link show dev br0 >/dev/null 2>&1 || run_ip -n "$SW" link add br0 type bridge mcast_snooping 0
  run_ip -n "$SW" link set br0 type bridge mcast_snooping 0
  run_ip -n "$SW" link set br0 up
  run_ip -n "$SW" link set lo up

  add_host "$SCAN_NAME" "$SCAN_IP" "$SCAN_MAC" "ula=$SCAN_ULA"
  # Misaddressed devices answer from addresses outside the lab subnet, which the scanner has no
  # route to (no namespace has a default route). Reverse-path filtering (rp_filter 1 or 2,
  # https://docs.kernel.org/networking/ip-sysctl.html) would drop those replies, where a real
  # scanner, whose default route leaves by the same interface, takes them: it is off (0, the kernel's
  # default in a new namespace) in the scanner's namespace, whatever the machine's own setting.
  ip netns exec "$PREFIX$SCAN_NAME" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 >/dev/null ||
    die "cannot set rp_filter in $PREFIX$SCAN_NAME"
  local name ip mac extras names=()
  while read -r name ip mac extras; do
    [ "$name" != "$SCAN_NAME" ] && [ "$name" != sw ] || die "profile name '$name' is reserved"
    # shellcheck disable=SC2086 # one word per option token
    add_host "$name" "$ip" "$mac" $extras
    names+=("$name")
  done <<<"$hosts"
  # Record what exists, so that `down` removes it even if a profile file disappears.
  { [ -f "$HOSTS_FILE" ] && cat "$HOSTS_FILE"; echo "$hosts"; } | sort -u -k1,1 >"$HOSTS_FILE.tmp"
  mv "$HOSTS_FILE.tmp" "$HOSTS_FILE"

  for name in "${names[@]}"; do start_sim "$name" fresh; done
  wait_ready "${names[@]}"
  local dt
  dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
  note "lab up in ${dt}s: scanner $SCAN_IP in ${PREFIX}scan; devices: $(for n in "${names[@]}"; do printf '%s ' "$n"; done)"
}

# delete_namespace NS: deletes NS when it exists; processes still in it are named, never killed.
delete_namespace() {
  local ns=$1 pids
  ns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
  [ -z "$pids" ] || note "warning: processes still in $ns (not started by lab.sh, left alone): $pids"
  run_ip netns del "$ns"
  note "deleted namespace $ns"
}

cmd_down() {
  require_root
  lock
  local t0=$EPOCHREALTIME name
  local names
  names=$(known_names)
  for name in $names; do
    if [ -f "$(pid_file "$name")" ]; then stop_sim "$name"; fi
  done
  for name in $SCAN_NAME $names sw; do delete_namespace "$PREFIX$name"; done
  rm -rf "$PID_DIR" "$RUN_DIR" "$HOSTS_FILE"
  local left
  left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX" || true)
  [ -z "$left" ] || note "warning: other $PREFIX* namespaces exist (unknown to this lab, left alone): $(echo $left)"
  local dt
  dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
  note "lab down in ${dt}s"
}

cmd_status() {
  require_root
  local name ns up=1 pid state
  for name in sw $SCAN_NAME; do
    ns=$PREFIX$name
    if ns_exists "$ns"; then echo "$ns: namespace up"; else echo "$ns: namespace missing"; up=0; fi
  done
  for name in $(known_names); do
    ns=$PREFIX$name
    pid=$(sim_pid "$name")
    if ! ns_exists "$ns"; then
      state="namespace missing"
      up=0
    elif [ -n "$pid" ] && is_sim "$pid" "$name"; then
      if [ -f "$(ready_file "$name")" ]; then state="running pid $pid, ready"; else state="running pid $pid, NOT ready"; up=0; fi
      state="$state, $(ip -n "$ns" -br addr show dev eth0 2>/dev/null | awk '{print $3}') $(ip -n "$ns" -br link show dev eth0 2>/dev/null | awk '{print $3}')"
    else
      state="namespace up, simulator stopped"
      up=0
    fi
    echo "$ns: $state"
  done
  if [ $up -eq 1 ]; then echo "lab: up"; else echo "lab: not (fully) up"; return 3; fi
}

check_device_arg() {
  local name=${1:-}
  [ -n "$name" ] || die "usage: lab.sh $CMD NAME"
  valid_name "$name" && [ -f "$PROFILES_DIR/$name.json" ] || die "unknown device '$name' (no $PROFILES_DIR/$name.json)"
}

# ---------------------------------------------------------------------------------------------------
# The crowd (opt-in; issue 10 "a crowd lab"): many devices on 198.18.4.0/22, apart from the lab above
# so that no lab test sees it and it needs no `up`. tests/lab/sim/crowd.ts plans and serves it.
#   cctvlab-[ID-]cscan  the crowd's scanner, eth0 198.18.4.1/22, MAC 02:00:00:00:04:01
#   cctvlab-[ID-]crowd  the devices: up0 (the other end of cscan's eth0) carries one macvlan per
#                       device (cN: its own MAC and address) and one (cp) holding every address of
#                       the proxy-ARP segment behind one MAC; CROWD_PROCS processes (default 2) serve
#                       them all, each device's sockets bound to its own address.
# Many interfaces on one subnet behave as separate hosts only when each answers ARP for its own
# addresses alone and announces the address it sends from (arp_ignore=1, arp_announce=2,
# https://docs.kernel.org/networking/ip-sysctl.html); IPv6 is off in both namespaces (no DAD or
# router solicitations from a thousand interfaces). These sysctls are per namespace.
# The kernel's IPv4 neighbour table is one table for every namespace of the machine, and its
# gc_thresh3 (1024 by default) bounds all of it (struct neigh_table in torvalds/linux
# include/net/neighbour.h, the one arp_tbl of net/ipv4/arp.c): the sysctl is not per namespace, so
# this script never raises it. A crowd of 1000 puts about 1000 entries in the scanner's namespace
# while it is scanned; crowd-up says so when the crowd's addresses come near gc_thresh3. On the
# crowd's side, each device interface answering the scanner would add one more entry (real devices
# each have a kernel of their own): each gets a permanent entry for the scanner instead, which the
# table's limits do not count (torvalds/linux net/core/neighbour.c: ___neigh_create counts an entry
# in gc_entries, the number held against gc_thresh3, only when it is not NUD_PERMANENT; since
# v4.20, "neighbor: Improve garbage collection").
CROWD_SCAN_NS=${PREFIX}cscan
CROWD_NS=${PREFIX}crowd
CROWD_DIR=$LAB_DIR/crowd
CROWD_JS=$BUILD_DIR/tests/lab/sim/crowd.js
CROWD_PLAN=$CROWD_DIR/plan.json
CROWD_PROCS=${CROWD_PROCS:-2}
CROWD_READY_TIMEOUT=${CROWD_READY_TIMEOUT:-120}

crowd_pid_file() { echo "$CROWD_DIR/shard-$1.pid"; }
crowd_ready_file() { echo "$CROWD_DIR/shard-$1.ready"; }

# True when PID is alive and is a crowd process serving this lab's plan.
is_crowd() {
  local pid=$1 cmd
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"sim/crowd.js serve --plan $CROWD_PLAN "* ]]
}

crowd_teardown() {
  local f pid i ns
  for f in "$CROWD_DIR"/shard-*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if is_crowd "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do is_crowd "$pid" || break; sleep 0.05; done
      if is_crowd "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
      note "crowd: stopped pid $pid"
    fi
    rm -f "$f"
  done
  rm -f "$CROWD_DIR"/shard-*.ready
  for ns in "$CROWD_NS" "$CROWD_SCAN_NS"; do delete_namespace "$ns"; done
}

cmd_crowd_up() {
  require_root
  lock
  local count=${1:-1000} t0=$EPOCHREALTIME lines batch shard pids=() addresses thresh
  [[ $count =~ ^[0-9]{1,4}$ ]] || die "crowd-up: N must be a number of devices (1 to 1001)"
  [[ $CROWD_PROCS =~ ^[1-9]$ ]] || die "CROWD_PROCS must be 1 to 9"
  NODE=$(command -v node) || die "node not found in PATH"
  build
  crowd_teardown
  mkdir -p "$CROWD_DIR" "$LOG_DIR"
  lines=$("$NODE" "$CROWD_JS" plan --count "$count" --out "$CROWD_PLAN") || die "crowd plan failed (see above)"
  addresses=$(wc -l <<<"$lines")
  thresh=$(cat /proc/sys/net/ipv4/neigh/default/gc_thresh3)
  if [ $((addresses + 64)) -gt "$thresh" ]; then
    note "warning: $addresses crowd addresses, and the machine-wide neighbour table holds $thresh entries at most (gc_thresh3, not raised here): a scan of the whole crowd may meet 'neighbor table overflow' when other namespaces are busy"
  fi
  run_ip netns add "$CROWD_SCAN_NS"
  run_ip netns add "$CROWD_NS"
  for ns in "$CROWD_SCAN_NS" "$CROWD_NS"; do
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null || die "cannot turn IPv6 off in $ns"
  done
  ip netns exec "$CROWD_NS" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 >/dev/null || die "cannot set the ARP sysctls in $CROWD_NS"
  run_ip -n "$CROWD_SCAN_NS" link add eth0 type veth peer name up0 netns "$CROWD_NS"
  run_ip -n "$CROWD_SCAN_NS" link set dev eth0 address 02:00:00:00:04:01
  run_ip -n "$CROWD_SCAN_NS" addr add 198.18.4.1/22 dev eth0
  run_ip -n "$CROWD_SCAN_NS" link set dev eth0 up
  run_ip -n "$CROWD_SCAN_NS" link set dev lo up
  run_ip -n "$CROWD_SCAN_NS" route replace 224.0.0.0/4 dev eth0
  run_ip -n "$CROWD_NS" link set dev up0 up
  run_ip -n "$CROWD_NS" link set dev lo up
  # One batch for every interface (ip(8) -batch): a thousand `ip` runs would take a minute.
  batch=$CROWD_DIR/links.batch
  awk '
    !($3 in made) { made[$3] = 1; print "link add link up0 name " $3 " address " $2 " type macvlan mode bridge" }
    { print "addr add " $1 "/22 dev " $3 }
    END {
      for (i in made) print "link set dev " i " up"
      for (i in made) print "neigh replace 198.18.4.1 lladdr 02:00:00:00:04:01 dev " i " nud permanent"
    }' <<<"$lines" >"$batch"
  run_ip -n "$CROWD_NS" -batch "$batch"
  run_ip -n "$CROWD_NS" route replace 224.0.0.0/4 dev c0
  for ((shard = 0; shard < CROWD_PROCS; shard++)); do
    rm -f "$(crowd_ready_file $shard)"
    # A process holds a few sockets per device: its own soft descriptor limit is raised to the hard one.
    (ulimit -n "$(ulimit -Hn)" && exec ip netns exec "$CROWD_NS" "$NODE" "$CROWD_JS" serve --plan "$CROWD_PLAN" --shard "$shard/$CROWD_PROCS" \
      --ready-file "$(crowd_ready_file $shard)" </dev/null >"$LOG_DIR/crowd-$shard.log" 2>&1 9>&-) &
    echo $! >"$(crowd_pid_file $shard)"
    pids+=($!)
  done
  local deadline=$((SECONDS + CROWD_READY_TIMEOUT)) ready
  while :; do
    ready=0
    for ((shard = 0; shard < CROWD_PROCS; shard++)); do
      [ -f "$(crowd_ready_file $shard)" ] && ready=$((ready + 1)) && continue
      is_crowd "${pids[$shard]}" || { tail -n 20 "$LOG_DIR/crowd-$shard.log" >&2; die "crowd process $shard exited before it was ready"; }
    done
    [ $ready -lt "$CROWD_PROCS" ] || break
    [ $SECONDS -lt $deadline ] || die "crowd not ready after ${CROWD_READY_TIMEOUT}s (logs $LOG_DIR/crowd-*.log)"
    sleep 0.2
  done
  # The crowd answers a unicast Probe as a wire of devices would (crowd.js checkCrowd), or it is no lab to measure on.
  ip netns exec "$CROWD_SCAN_NS" "$NODE" "$CROWD_JS" check --plan "$CROWD_PLAN" || { crowd_teardown; die "crowd check failed (above): the crowd did not answer as devices would, and was taken down again"; }
  note "crowd up in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')s: $addresses addresses on 198.18.4.0/22, scanner 198.18.4.1 in $CROWD_SCAN_NS, plan $CROWD_PLAN"
}

cmd_crowd_down() {
  require_root
  lock
  crowd_teardown
  rm -rf "$CROWD_DIR"
  note "crowd down"
}

case "$CMD" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
crowd-up) cmd_crowd_up "${2:-}" ;;
crowd-down) cmd_crowd_down ;;
stop)
  check_device_arg "${2:-}"
  require_root
  lock
  stop_sim "$2"
  ;;
start)
  check_device_arg "${2:-}"
  require_root
  lock
  NODE=$(command -v node) || die "node not found in PATH"
  start_sim "$2"
  wait_ready "$2"
  note "$2: ready"
  ;;
*) usage ;;
esac
