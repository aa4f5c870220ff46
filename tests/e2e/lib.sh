# shellcheck shell=bash
# Lab helpers for the end-to-end tests. Source it, then call lab_init NAME.
#
# Every host is a network namespace named tme-NAME-PID-HOST; every address
# is in 198.18.0.0/15 or 2001:db8::/32; the pin path is the test's own
# (/sys/fs/bpf/tm-e2e-PID-NAME). Teardown runs on exit, also on failure;
# KEEP=1 keeps the lab for debugging. Exit status 77 means skipped.
#
# traffic_meter runs through `nsenter --net=...` (never `ip netns exec`, which
# remounts /sys and hides bpffs). Counters are checked with tm_expect.py,
# which polls `show --json` until the expected values appear or a timeout.

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$E2E_DIR/../.." && pwd)
TM=${TM:-$ROOT_DIR/builddir/traffic_meter}
PY=/usr/bin/python3
EXPECT_TIMEOUT=${EXPECT_TIMEOUT:-5}

LAB_NAME=
LAB_NS=()
LAB_PIDS=()
LAB_WORK=
PIN=
TM_NS= # namespace traffic_meter runs in (set by tm_ns)
LAB_METERS=() # "HOST PIN" pairs to purge at teardown
LAB_PINS=()   # other bpffs paths of the test's own, removed at teardown

log() { printf '[%s] %s\n' "$LAB_NAME" "$*" >&2; }
skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

lab_init() {
	LAB_NAME=$1
	[[ $(id -u) == 0 ]] || skip "needs root"
	[[ -x $TM ]] || skip "no traffic_meter binary at $TM (set TM=...)"
	command -v nsenter >/dev/null || skip "nsenter missing"
	[[ -x $PY ]] || skip "$PY missing"
	LAB_WORK=$(mktemp -d "/tmp/tm-e2e-$LAB_NAME.XXXXXX")
	PIN=/sys/fs/bpf/tm-e2e-$$-$LAB_NAME
	trap lab_teardown EXIT
	trap 'exit 130' INT TERM
}

lab_teardown() {
	local rc=$? pid ns
	trap - EXIT
	if [[ ${KEEP:-0} == 1 ]]; then
		log "KEEP=1: lab kept: namespaces ${LAB_NS[*]}, pin $PIN, work $LAB_WORK"
		return $rc
	fi
	for pid in "${LAB_PIDS[@]}"; do
		kill_tree "$pid"
	done
	for pid in "${LAB_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	local m h p
	for m in "${LAB_METERS[@]}"; do
		read -r h p <<<"$m"
		if [[ -e /run/netns/$(nsname "$h") && -x $TM ]]; then
			timeout 10 nsenter --net="/run/netns/$(nsname "$h")" "$TM" --pin-path "$p" purge \
				>/dev/null 2>&1 || true
		fi
	done
	for ns in "${LAB_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for m in "${LAB_METERS[@]}" "- $PIN"; do
		read -r h p <<<"$m"
		LAB_PINS+=("$p")
	done
	for p in "${LAB_PINS[@]}"; do
		if [[ $p == /sys/fs/bpf/tm-e2e-$$-* && -e $p ]]; then rm -rf "$p"; fi
	done
	[[ -n $LAB_WORK ]] && rm -rf "$LAB_WORK"
	return $rc
}

# --- namespaces and links -------------------------------------------------

nsname() { printf 'tme-%s-%s-%s' "$LAB_NAME" "$$" "$1"; }

# nsx HOST CMD...: run CMD in HOST's network namespace.
nsx() {
	local host=$1
	shift
	nsenter --net="/run/netns/$(nsname "$host")" "$@"
}

# ns_add HOST...: a quiet host: lo up, no DAD or router solicitations, no
# MLD reports (dropped at OUTPUT: they come late and from link-local
# addresses, which a ::/0 rule would count), ICMP errors not rate limited.
ns_add() {
	local h n
	for h in "$@"; do
		n=$(nsname "$h")
		ip netns add "$n"
		LAB_NS+=("$n")
		nsx "$h" ip link set lo up
		nsx "$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
			net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
		if command -v nft >/dev/null; then
			nsx "$h" nft add table ip6 tme_quiet
			nsx "$h" nft add chain ip6 tme_quiet out '{ type filter hook output priority 0; }'
			nsx "$h" nft add rule ip6 tme_quiet out icmpv6 type '{ mld-listener-report, mld2-listener-report }' drop
		else
			nsx "$h" ip6tables -A OUTPUT -p icmpv6 --icmpv6-type 143 -j DROP
			nsx "$h" ip6tables -A OUTPUT -p icmpv6 --icmpv6-type 131 -j DROP
		fi
	done
}

# router HOST: forward IPv4 and IPv6.
router() {
	nsx "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# veth HOST1 IF1 HOST2 IF2: a veth pair between two hosts, both ends up.
veth() {
	nsx "$1" ip link add "$2" type veth peer name "$4" netns "$(nsname "$3")"
	nsx "$1" ip link set "$2" up
	nsx "$3" ip link set "$4" up
}

# addr HOST IF ADDR/PREFIX...
addr() {
	local h=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			nsx "$h" ip -6 addr add "$a" dev "$dev" nodad
		else
			nsx "$h" ip addr add "$a" dev "$dev"
		fi
	done
}

# route HOST PREFIX VIA: e.g. route a default 198.18.1.1; route a default 2001:db8:1::1
route() {
	local fam=-4
	[[ $3 == *:* ]] && fam=-6
	nsx "$1" ip "$fam" route replace "$2" via "$3"
}

mac_of() { nsx "$1" ip -br link show dev "$2" | awk '{print $3}'; }

global_addrs() {
	nsx "$1" ip -o addr show dev "$2" scope global | awk '{split($4, a, "/"); print a[1]}'
}

# static_neigh HOST1 IF1 HOST2 IF2: permanent neighbour entries both ways
# for every global address, so no ARP/ND traffic (which ND would count:
# neighbour solicitations come from global addresses) runs during a test.
static_neigh() {
	local h1=$1 d1=$2 h2=$3 d2=$4 mac a
	mac=$(mac_of "$h2" "$d2")
	for a in $(global_addrs "$h2" "$d2"); do
		nsx "$h1" ip neigh replace "$a" lladdr "$mac" dev "$d1" nud permanent
	done
	mac=$(mac_of "$h1" "$d1")
	for a in $(global_addrs "$h1" "$d1"); do
		nsx "$h2" ip neigh replace "$a" lladdr "$mac" dev "$d2" nud permanent
	done
}

# bridge_add HOST BR PORT...: a bridge with no STP delay and no multicast
# snooping (no queries of its own), ports enslaved and up.
bridge_add() {
	local h=$1 br=$2 p
	shift 2
	nsx "$h" ip link add "$br" type bridge forward_delay 0 stp_state 0 mcast_snooping 0
	for p in "$@"; do
		nsx "$h" ip link set "$p" master "$br"
	done
	nsx "$h" ip link set "$br" up
}

# tun_wire HOST1 IF1 HOST2 IF2: two tun devices joined by tun_wire.py.
tun_wire() {
	local ready=$LAB_WORK/tun-$2-$4.ready
	nsx "$1" ip tuntap add dev "$2" mode tun
	nsx "$3" ip tuntap add dev "$4" mode tun
	bg "$PY" "$E2E_DIR/tun_wire.py" "$(nsname "$1")" "$2" "$(nsname "$3")" "$4" \
		--timeout 120 --ready-file "$ready"
	wait_for 5 test -e "$ready" || fail "tun_wire did not start"
	nsx "$1" ip link set "$2" up
	nsx "$3" ip link set "$4" up
}

# --- processes and waiting ------------------------------------------------

# bg CMD...: start CMD in the background; teardown kills it. Sets BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	LAB_PIDS+=("$BG_PID")
}

# kill_tree PID: SIGTERM to PID and its descendants, children first. A
# background shell function (bg nsx ...) is a subshell whose child is the
# real process: killing the subshell alone would leave that running.
kill_tree() {
	local child
	for child in $(pgrep -P "$1"); do
		kill_tree "$child"
	done
	kill "$1" 2>/dev/null || true
}

# wait_for SECONDS CMD...: poll CMD until it succeeds or SECONDS pass.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		((SECONDS <= end)) || return 1
		sleep 0.05
	done
}

# wait_pid PID SECONDS: wait for a background process; kill it on timeout.
wait_pid() {
	local pid=$1 end=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS > end)); then
			kill_tree "$pid"
			wait "$pid" 2>/dev/null || true
			return 124
		fi
		sleep 0.05
	done
	wait "$pid"
}

# --- traffic --------------------------------------------------------------

udp4_bytes() { echo $((20 + 8 + $1)); }
udp6_bytes() { echo $((40 + 8 + $1)); }
# udp_bytes FAMILY PAYLOAD: IP bytes of one UDP datagram, IPv4 (4) or IPv6 (6).
udp_bytes() { if [[ $1 == 4 ]]; then udp4_bytes "$2"; else udp6_bytes "$2"; fi; }

# frag_bytes 4|6 MTU PAYLOAD: "FRAGMENTS BYTES" of one UDP datagram on a link
# with that MTU (every fragment's IP header counted; IPv6 fragments carry a
# fragment header too).
frag_bytes() {
	local fam=$1 mtu=$2 l=$((8 + $3)) hdr per n
	if [[ $fam == 4 ]]; then hdr=20; else hdr=48; fi
	if ((l + (fam == 4 ? 20 : 40) <= mtu)); then
		echo "1 $((l + (fam == 4 ? 20 : 40)))"
		return
	fi
	per=$(((mtu - hdr) & ~7))
	n=$(((l + per - 1) / per))
	echo "$n $((l + hdr * n))"
}

# udp_exchange FROM_HOST TO_HOST TO_ADDR PORT COUNT SIZE [REPLY_SIZE] [SENDER_OPTS...]
# FROM sends COUNT datagrams of SIZE payload to a bounded listener on TO;
# with REPLY_SIZE >= 0 the listener answers each with REPLY_SIZE bytes and
# the sender waits for every answer. The listener binds TO_ADDR, so its
# answers come from the address the datagrams went to (same flow).
udp_exchange() {
	local from=$1 to=$2 dst=$3 port=$4 count=$5 size=$6 reply=${7:--1}
	shift 7 2>/dev/null || shift $#
	local ready=$LAB_WORK/sink-$port-$RANDOM.ready opts=() pid
	((reply >= 0)) && opts+=(--expect-replies)
	bg nsx "$to" "$PY" "$E2E_DIR/udp_sink.py" --bind "$dst" --port "$port" --count "$count" \
		--reply-size "$reply" --timeout 15 --ready-file "$ready" >/dev/null
	pid=$BG_PID
	wait_for 5 test -e "$ready" || fail "udp sink on $to did not start"
	nsx "$from" "$PY" "$E2E_DIR/udp_send.py" --dst "$dst" --port "$port" --count "$count" \
		--size "$size" --timeout 10 "${opts[@]}" "$@" >/dev/null ||
		fail "udp_send $from -> $dst:$port failed"
	wait_pid "$pid" 15 >/dev/null || fail "udp sink on $to got fewer than $count datagrams"
}

# udp_unreachable FROM_HOST TO_ADDR PORT COUNT SIZE: datagrams to a closed
# port; each one draws an ICMP port unreachable back (rate limit is off).
udp_unreachable() {
	nsx "$1" "$PY" "$E2E_DIR/udp_send.py" --dst "$2" --port "$3" --count "$4" --size "$5" \
		--timeout 10 >/dev/null || fail "udp_send to closed port failed"
}

# tcp_transfer CLIENT SERVER SERVER_ADDR PORT DOWN_BYTES UP_BYTES
# CLIENT connects to SERVER, downloads DOWN_BYTES and/or uploads UP_BYTES.
# Sets TCP_RETRANS_SEGS and TCP_RETRANS_BYTES to what the sending sides
# retransmitted (their TCP_INFO): those segments are on the wire and
# counted, so a check's upper bound grows by them (a CPU-starved veth
# drops packets now and then). TCP_RETRANS_WIRE bounds the bytes they
# added: their payload and at most 80 bytes of headers each (IPv6 + TCP
# with options).
tcp_transfer() {
	local client=$1 server=$2 addr=$3 port=$4 down=$5 up=$6
	local tag=$LAB_WORK/tcp-$port-$RANDOM pid side segs bytes
	bg nsx "$server" "$PY" "$E2E_DIR/tcp_xfer.py" server --addr "$addr" --port "$port" \
		--send "$down" --recv "$up" --timeout 30 --ready-file "$tag.ready" \
		--stats-file "$tag.server" >/dev/null
	pid=$BG_PID
	wait_for 5 test -e "$tag.ready" || fail "tcp server on $server did not start"
	nsx "$client" "$PY" "$E2E_DIR/tcp_xfer.py" client --addr "$addr" --port "$port" \
		--send "$up" --recv "$down" --timeout 30 --stats-file "$tag.client" >/dev/null ||
		fail "tcp client $client failed"
	wait_pid "$pid" 30 >/dev/null || fail "tcp server on $server failed"
	TCP_RETRANS_SEGS=0 TCP_RETRANS_BYTES=0
	for side in server client; do
		[[ -e $tag.$side ]] || continue # that side sent nothing
		read -r segs bytes <"$tag.$side" || fail "no retransmission figures from the tcp $side"
		TCP_RETRANS_SEGS=$((TCP_RETRANS_SEGS + segs)) TCP_RETRANS_BYTES=$((TCP_RETRANS_BYTES + bytes))
	done
	# shellcheck disable=SC2034 # read by the tests
	TCP_RETRANS_WIRE=$((TCP_RETRANS_BYTES + 80 * TCP_RETRANS_SEGS))
	((TCP_RETRANS_SEGS == 0)) ||
		log "tcp $client <-> $server port $port: $TCP_RETRANS_SEGS segments ($TCP_RETRANS_BYTES B) retransmitted"
}

# ping_n FROM ADDR COUNT SIZE: COUNT echo requests of SIZE payload bytes.
ping_n() {
	nsx "$1" ping -q -n -c "$3" -s "$4" -i 0.01 -W 2 -w 10 "$2" >/dev/null ||
		fail "ping $1 -> $2 failed"
}

# --- traffic_meter --------------------------------------------------------

# tm_ns HOST [PIN]: traffic_meter runs in HOST's namespace with pin path
# PIN (default: the test's) from now on; teardown purges every such pair.
# A second meter in the same lab needs a pin path of its own, e.g. $PIN-2.
tm_ns() {
	TM_NS=$1
	PIN=${2:-$PIN}
	[[ $PIN == /sys/fs/bpf/tm-e2e-$$-* ]] || fail "pin path $PIN outside the test's prefix"
	[[ " ${LAB_METERS[*]} " == *" $TM_NS $PIN "* ]] || LAB_METERS+=("$TM_NS $PIN")
}

# tm ARGS...: run traffic_meter with the test's pin path in TM_NS; on
# failure, print its output and fail the test.
tm() {
	local out rc=0
	out=$(nsx "$TM_NS" timeout "${TM_TIMEOUT:-120}" "$TM" --pin-path "$PIN" "$@" 2>&1) || rc=$?
	if ((rc != 0)); then
		printf '%s\n' "$out" >&2
		fail "traffic_meter $* exited $rc"
	fi
	[[ -z $out ]] || printf '%s\n' "$out"
}

# tm_rc ARGS...: run traffic_meter, print nothing, return its exit status.
tm_rc() { nsx "$TM_NS" timeout "${TM_TIMEOUT:-120}" "$TM" --pin-path "$PIN" "$@" >/dev/null 2>&1; }

# expect [--timeout S] [--baseline FILE] CHECK...: poll show --json until
# every CHECK (RULE:FIELD=VALUE, see tm_expect.py) holds.
expect() {
	local opts=(--timeout "$EXPECT_TIMEOUT")
	"$PY" "$E2E_DIR/tm_expect.py" "${opts[@]}" "$@" -- \
		nsenter --net="/run/netns/$(nsname "$TM_NS")" "$TM" --pin-path "$PIN" show --json ||
		fail "counters differ from expectations (${FUNCNAME[1]:-main}, line ${BASH_LINENO[0]})"
}

# snapshot FILE: save current counters for a later expect --baseline FILE.
snapshot() {
	"$PY" "$E2E_DIR/tm_expect.py" --save "$1" -- \
		nsenter --net="/run/netns/$(nsname "$TM_NS")" "$TM" --pin-path "$PIN" show --json ||
		fail "show --json failed"
}

# counters RULE: "up_bytes up_packets down_bytes down_packets" of one rule.
counters() {
	tm show --json | "$PY" -c '
import ipaddress, json, sys
want = ipaddress.ip_network(sys.argv[1], strict=False)
doc = json.load(sys.stdin)
for r in (doc["rules"] if isinstance(doc, dict) else doc):
    if ipaddress.ip_network(r["rule"], strict=False) == want:
        print(r["up_bytes"], r["up_packets"], r["down_bytes"], r["down_packets"])
        sys.exit(0)
sys.exit("no rule " + sys.argv[1])' "$1"
}

# flow RULE UP_PKTS UP_BYTES DOWN_PKTS DOWN_BYTES: the four exact checks of
# one rule, for expect.
flow() {
	printf '%s\n' "$1:up_packets=$2" "$1:up_bytes=$3" "$1:down_packets=$4" "$1:down_bytes=$5"
}

pass() {
	log "PASS"
	exit 0
}
