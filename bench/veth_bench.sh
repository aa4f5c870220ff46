#!/bin/bash
# Real traffic through a veth pair, side by side (issue "Fast path"):
# delivered packets per second and CPU ns per packet on the receiving side
# for
#   none             no hook
#   empty            the empty TC program (cls_bpf on clsact, ingress + egress)
#   empty-tcx        the empty program attached with TCX (bench/tcx_attach,
#                    traffic_meter's own hook code) instead: what TCX saves over
#                    cls_bpf, the budget of the 1-flow TCX target. Any plain
#                    program case X below runs that way as X-tcx.
#   minimal          a minimal flow-table program (bench/minimal_flow.bpf.c):
#                    one LRU-hash lookup of a 40-byte 5-tuple, insert on a
#                    miss, one per-CPU add: the floor of any per-flow meter
#   inline           (not in the default cases) the minimal table's work with
#                    a flow table looked up without a kernel call
#                    (bench/inline_flow.bpf.c): the next step's cost
#   pooled, split    (not in the default cases) the inline table with its
#                    entries in a pool, reached through indexes beside the
#                    tags: handed out in arrival order (pooled) or fixed per
#                    bucket and way, spread over the pool (split); see
#                    bench/pooled_flow.bpf.c
#   head64           (not in the default cases) pooled with the 64-byte,
#                    six-way, locked bucket head of a pooled traffic_meter
#                    table
#   straight         (not in the default cases) the empty program with 3.4 KB
#                    of straight-line code (bench/straight_code.bpf.c): what
#                    code size alone costs on this path
#   branchy, scattered, contiguous, wide, lines, chain, stores, pages, walk,
#   ctx, percpu, stack
#                    (not in the default cases) what taken branches, hot
#                    code spread over the image, code that runs as fast as
#                    it is fetched, and a program's own data
#                    lines (loads, independent or each waiting on the one
#                    before, or stores; in one value, on 16 pages,
#                    per-CPU or on the stack) and the skb's fields cost on
#                    this path (bench/code_shape.bpf.c,
#                    bench/data_lines.bpf.c)
#   nft-set          nftables per-element set counters (netdev ingress,
#                    saddr and daddr looked up in a 10-element set)
#   conntrack        conntrack with accounting (what nlbwmon reads)
#   tm-R-MODE        traffic_meter with R = 10, 10k, 1M rules, attached
#                    with TCX or with netlink (tc filters on clsact)
#   tm-churn-MODE    10 rules and --max-flows 16384 (8,192 new flows kept):
#                    with 64,000 flows every packet is a new flow that
#                    evicts another (the first-packet cost under churn)
#   tm-wide-MODE     10 rules and --max-flows 1048576 (4x the default): fewer
#                    flows share a bucket, the table is 4x larger
#   tm-half-MODE     10 rules and --max-flows 131072, and
#   tm-quarter-MODE  65536 (1/2 and 1/4 of the default table): with the
#                    others, how the cost of a packet follows the table's size
#   other-R-MODE     the same with the binary given by --other BIN (A/B of
#                    two builds in one run), or with this build's binary
#                    loading the BPF object given by --other-object OBJ
#                    (`load --object`: an A/B of two data planes, no second
#                    build of the rest)
# with 1 flow and with 64,000 flows (UDP source ports), 64-byte frames.
#
# Method: a sender writes raw frames (bench/frame_flood) onto the veth end
# in one namespace, pinned to one CPU; the receiving end is in another
# namespace, where the frame is received on that same CPU, goes through
# the hook under test, IP and UDP, and is dropped at a full socket buffer.
# That CPU is busy the whole trial, so 1e9 / pps is the time one packet
# costs end to end; CPU ns per packet come from /proc/stat (that CPU's
# busy time / delivered packets). Delivered = UDP InDatagrams + InErrors
# of the receiving namespace. Every round runs every case once, in turn,
# so slow phases of this shared machine spread over all of them; the
# tables show medians over rounds and medians of per-round ratios.
# traffic_meter's counter for the sender's address is checked against the
# delivered packets after every trial; a difference fails the run.
# --prog-stats adds the ingress program's own ns per run, from the kernel's
# BPF run-time statistics (BPF_ENABLE_STATS, held only while the bench runs):
# the program alone, in the real receive path, with its cache misses but
# without the noise of the rest of the path. It adds two clock reads to
# every BPF case, so the other columns are better read from a run without.
# --routed puts a router between the two (a third namespace that forwards
# from one veth pair to another, on the same CPU) and attaches every hook
# to both of its interfaces: what a router pays per forwarded packet, which
# traffic_meter counts at the ingress and skips at the egress (its counter
# is still checked against the delivered packets: once per host).
# --interleave REF runs the case REF (empty or minimal) before every other
# case of a round and once more at its end, and compares each trial with
# the REF trials just before and after it (geometric mean of their pps,
# mean of their CPU ns) instead of the round's one REF trial: this machine
# has slow and fast phases of some seconds, which a round of several cases
# straddles, and a neighbour in time is more likely in the same phase.
#
# usage: bench/veth_bench.sh [BUILDDIR] [--rounds N] [--seconds S] [--cases LIST] [--flows LIST]
#                            [--other BIN] [--other-object OBJ] [--prog-stats]
#                            [--interleave REF] [--routed]
#   defaults: builddir-bench, 3 rounds, 2 s per trial, every case, flows "1 64000"
# Needs root; makes its own namespaces and pin paths; touches no host
# interface. Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh

BUILDDIR=builddir-bench
ROUNDS=3 SECONDS_PER=2
CASES="none empty minimal nft-set conntrack tm-10-tcx tm-10-netlink tm-10k-tcx tm-10k-netlink tm-1m-tcx tm-1m-netlink tm-churn-tcx"
FLOWS="1 64000"
OTHER= OTHER_OBJECT=
PROG_STATS=0
INTERLEAVE=
ROUTED=0
while (($#)); do
	case $1 in
	--rounds) ROUNDS=$2 && shift 2 ;;
	--seconds) SECONDS_PER=$2 && shift 2 ;;
	--cases) CASES=$2 && shift 2 ;;
	--flows) FLOWS=$2 && shift 2 ;;
	--other) OTHER=$(realpath "$2") && shift 2 ;;
	--other-object) OTHER_OBJECT=$(realpath "$2") && shift 2 ;;
	--prog-stats) PROG_STATS=1 && shift ;;
	--interleave) INTERLEAVE=$2 && shift 2 ;;
	--routed) ROUTED=1 && shift ;;
	-h | --help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0" && exit 0 ;;
	*) BUILDDIR=$1 && shift ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "veth_bench.sh: run as root" >&2; exit 1; }
[[ -z $OTHER_OBJECT || -f $OTHER_OBJECT ]] || { echo "veth_bench.sh: --other-object: no such file" >&2; exit 2; }
if [[ -n $INTERLEAVE && " $CASES " != *" $INTERLEAVE "* ]]; then
	echo "veth_bench.sh: --interleave $INTERLEAVE: not one of the cases ($CASES)" >&2
	exit 2
fi
# One round's trials, in order.
ROUND_ORDER=$CASES
if [[ -n $INTERLEAVE ]]; then
	ROUND_ORDER=
	for c in $CASES; do
		[[ $c == "$INTERLEAVE" ]] || ROUND_ORDER+="$INTERLEAVE $c "
	done
	ROUND_ORDER+=$INTERLEAVE
fi
[ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" >/dev/null
# The cases that are a plain TC program of their own, and its object.
declare -A PROG_O=([empty]=bpf/empty.bpf.o)
for p in minimal inline pooled split head64; do PROG_O[$p]=bench/${p}_flow.bpf.o; done
PROG_O[straight]=bench/straight_code.bpf.o
for p in branchy scattered contiguous wide; do PROG_O[$p]=bench/${p}_code.bpf.o; done
for p in lines chain stores pages walk ctx percpu stack; do PROG_O[$p]=bench/${p}_data.bpf.o; done
ninja -C "$BUILDDIR" traffic_meter bench/frame_flood bench/tcx_attach "${PROG_O[@]}" >/dev/null
for p in "${!PROG_O[@]}"; do PROG_O[$p]=$(realpath "$BUILDDIR/${PROG_O[$p]}"); done
BIN=$(realpath "$BUILDDIR/traffic_meter")
FLOOD=$(realpath "$BUILDDIR/bench/frame_flood")
TCX_ATTACH=$(realpath "$BUILDDIR/bench/tcx_attach")
is_prog_case() { [[ -n ${PROG_O[${1%-tcx}]:-} ]]; }
is_tcx_prog_case() { [[ $1 == *-tcx ]] && is_prog_case "$1"; }

TX=tm-vb-$$-tx RX=tm-vb-$$-rx RT=tm-vb-$$-rt
# Where the hooks go: the receiver's vb1, or (--routed) both of the
# router's interfaces, the one the frames come in through first.
HOOK_NS=$RX HOOK_DEVS=(vb1)
((ROUTED)) && HOOK_NS=$RT HOOK_DEVS=(vr0 vr1)
PIN=/sys/fs/bpf/tm-vb-$$
WORK=$(mktemp -d /tmp/tm-vb.XXXXXX)
CPU=$(($(nproc) - 1)) # sender and receive processing both run here
SINK_PID= STATS_PID=

cleanup() {
	[[ -z $SINK_PID ]] || kill "$SINK_PID" 2>/dev/null || true
	[[ -z $STATS_PID ]] || kill "$STATS_PID" 2>/dev/null || true
	local p
	for p in "$PIN"-*; do
		[[ -e $p ]] || continue
		nsenter --net="/run/netns/$HOOK_NS" "$BIN" --pin-path "$p" purge >/dev/null 2>&1 || true
		rm -rf "$p"
	done
	ip netns del "$TX" 2>/dev/null || true
	ip netns del "$RX" 2>/dev/null || true
	ip netns del "$RT" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rx() { nsenter --net="/run/netns/$RX" "$@"; }
tx() { nsenter --net="/run/netns/$TX" "$@"; }
hk() { nsenter --net="/run/netns/$HOOK_NS" "$@"; }
mac_of() { ip -n "$1" -br link show "$2" | awk '{print $3}'; } # NS DEV
# tm PIN ARGS: the binary under test, or --other's for an "other-" pin,
# whose loads take --other-object's object if one was given.
tm() {
	local bin=$BIN obj=()
	if [[ $1 == "$PIN"-other-* ]]; then
		bin=${OTHER:-$BIN}
		[[ $2 != load || -z $OTHER_OBJECT ]] || obj=(--object "$OTHER_OBJECT")
	fi
	hk "$bin" --pin-path "$1" "${@:2}" "${obj[@]}"
}

ip netns add "$TX"
ip netns add "$RX"
if ((ROUTED)); then
	# 198.18.7.1 (vb0) -> vr0 [router] vr1 -> 198.18.7.2 (vb1): host routes
	# and static neighbours, so that nothing but the flood crosses.
	ip netns add "$RT"
	ip link add vb0 netns "$TX" type veth peer name vr0 netns "$RT"
	ip link add vr1 netns "$RT" type veth peer name vb1 netns "$RX"
	tx ip addr add 198.18.7.1/32 dev vb0
	rx ip addr add 198.18.7.2/32 dev vb1
	hk sysctl -qw net.ipv4.ip_forward=1
	rx sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vb1.rp_filter=0
	for d in vr0 vr1; do ip -n "$RT" link set "$d" up; done
	ip -n "$RT" route add 198.18.7.1/32 dev vr0
	ip -n "$RT" route add 198.18.7.2/32 dev vr1
	ip -n "$RT" neigh add 198.18.7.2 lladdr "$(mac_of "$RX" vb1)" dev vr1 nud permanent
	ip -n "$RT" neigh add 198.18.7.1 lladdr "$(mac_of "$TX" vb0)" dev vr0 nud permanent
	tx ip link set vb0 up
	rx ip link set vb1 up
	rx ip route add default dev vb1
	DST_MAC=$(mac_of "$RT" vr0)
else
	ip link add vb0 netns "$TX" type veth peer name vb1 netns "$RX"
	tx ip addr add 198.18.7.1/24 dev vb0
	rx ip addr add 198.18.7.2/24 dev vb1
	tx ip link set vb0 up
	rx ip link set vb1 up
	DST_MAC=$(mac_of "$RX" vb1)
fi
rx ip link set lo up
# The receiver: a UDP socket that is never read; datagrams past its buffer
# are dropped there (UDP InErrors), after the whole receive path ran.
nsenter --net="/run/netns/$RX" python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.7.2", 9))
time.sleep(86400)' >/dev/null &
SINK_PID=$! # nsenter itself, which became python (not a subshell)

# traffic_meter states, one pin path per rule count, loaded once, then
# detached: each trial attaches, measures and detaches again.
for who in tm other; do
	for r in 10 10k 1m churn wide half quarter; do
		flows_opt=()
		case $r in
		10) n=10 ;;
		10k) n=10000 ;;
		1m) n=1000000 ;;
		churn) n=10 flows_opt=(--max-flows 16384) ;;
		wide) n=10 flows_opt=(--max-flows 1048576) ;;
		half) n=10 flows_opt=(--max-flows 131072) ;;
		quarter) n=10 flows_opt=(--max-flows 65536) ;;
		esac
		case " $CASES " in *" $who-$r-"*) ;; *) continue ;; esac
		[[ $who == tm || -n $OTHER$OTHER_OBJECT ]] ||
			{ echo "other- cases need --other BIN or --other-object OBJ" >&2; exit 2; }
		p=$PIN-$r
		[[ $who == other ]] && p=$PIN-other-$r
		[[ -e $WORK/rules-$r.json ]] || bench/rules_file.py "$n" "$WORK/rules-$r.json"
		tm "$p" load --dev "${HOOK_DEVS[0]}" --max-rules $((n + 1024)) "${flows_opt[@]}" >/dev/null
		tm "$p" import --file "$WORK/rules-$r.json" >/dev/null
		tm "$p" unload --all >/dev/null
	done
done

NFT_ELEMENTS="198.18.7.1, 198.18.7.2, 10.0.0.0/24, 10.0.1.0/24, 10.0.2.0/24, 10.0.3.0/24, 10.0.4.0/24, 10.0.5.0/24, 10.0.6.0/24, 10.0.7.0/24"
pin_of() { # tm-R-MODE or other-R-MODE -> its pin path
	local r=${1#*-}
	r=${r%-*}
	if [[ $1 == other-* ]]; then echo "$PIN-other-$r"; else echo "$PIN-$r"; fi
}
setup_case() { # CASE
	local d
	if is_tcx_prog_case "$1"; then
		# TCX links pinned in a directory of the case's own (removing it
		# detaches), made by traffic_meter's own hook code.
		for d in "${HOOK_DEVS[@]}"; do hk "$TCX_ATTACH" "${PROG_O[${1%-tcx}]}" "$d" "$PIN-$1"; done
		return
	fi
	if is_prog_case "$1"; then
		for d in "${HOOK_DEVS[@]}"; do
			hk tc qdisc add dev "$d" clsact
			hk tc filter add dev "$d" ingress bpf direct-action obj "${PROG_O[$1]}" sec tc
			hk tc filter add dev "$d" egress bpf direct-action obj "${PROG_O[$1]}" sec tc
		done
		return
	fi
	case $1 in
	none) ;;
	nft-set)
		hk nft -f - <<-EOF
		table netdev tm_vb {
			set hosts { type ipv4_addr; flags interval; counter; elements = { $NFT_ELEMENTS } }
			chain in { type filter hook ingress device "${HOOK_DEVS[0]}" priority 0; ip saddr @hosts; ip daddr @hosts; }
		}
		EOF
		;;
	conntrack)
		hk sysctl -qw net.netfilter.nf_conntrack_acct=1 2>/dev/null || true
		hk nft -f - <<-'EOF'
		table inet tm_vb_ct {
			chain pre { type filter hook prerouting priority 0; ct state new,established counter; }
		}
		EOF
		;;
	tm-* | other-*)
		for d in "${HOOK_DEVS[@]}"; do
			tm "$(pin_of "$1")" load --dev "$d" --attach-mode "${1##*-}" >/dev/null
		done
		;;
	esac
}
teardown_case() { # CASE
	local d
	if is_tcx_prog_case "$1"; then
		rm -rf "$PIN-$1"
		return
	fi
	if is_prog_case "$1"; then
		for d in "${HOOK_DEVS[@]}"; do hk tc qdisc del dev "$d" clsact; done
		return
	fi
	case $1 in
	nft-set) hk nft delete table netdev tm_vb ;;
	conntrack)
		hk nft delete table inet tm_vb_ct
		command -v conntrack >/dev/null && hk conntrack -F >/dev/null 2>&1 || true
		;;
	tm-* | other-*) tm "$(pin_of "$1")" unload --all >/dev/null ;;
	esac
}

delivered() { rx awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $2 + $4 }' /proc/net/snmp; }
cpu_busy_ns() { # user+nice+system+irq+softirq of $CPU, in ns
	awk -v c="cpu$CPU" -v hz="$(getconf CLK_TCK)" '$1 == c { printf "%.0f", ($2 + $3 + $4 + $7 + $8) * 1e9 / hz }' /proc/stat
}
tm_up_packets() { # PIN
	tm "$1" show --json --ip-address 198.18.7.1/32 | show_up_packets
}

# The ingress program of a case: traffic_meter's from its status, the
# others' from their TCX link or tc filter.
ifindex_of() { ip -n "$HOOK_NS" -j link show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])'; }
ingress_prog_id() { # CASE
	if is_tcx_prog_case "$1"; then
		# tcx_attach pins the links as traffic_meter does: if<ifindex>_<hook>.
		bpftool link show pinned "$PIN-$1/if$(ifindex_of "${HOOK_DEVS[0]}")_ingress" -j |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])'
	elif is_prog_case "$1"; then
		hk tc -j filter show dev "${HOOK_DEVS[0]}" ingress |
			python3 -c 'import json,sys; print([f["options"]["prog"]["id"] for f in json.load(sys.stdin) if "options" in f][0])'
	elif [[ $1 == tm-* || $1 == other-* ]]; then
		tm "$(pin_of "$1")" status --json | status_program_id
	fi
}
if ((PROG_STATS)); then STATS_PID=$(bpf_stats_hold); fi

RESULTS=$WORK/results.tsv
BAD=0
for flows in $FLOWS; do
	# Warm-up, not recorded: the first trial after a pause runs slow.
	tx taskset -c "$CPU" "$FLOOD" --dev vb0 --src 198.18.7.1 --dst 198.18.7.2 --dst-mac "$DST_MAC" \
		--dport 9 --flows "$flows" --seconds 1 >/dev/null
	for round in $(seq "$ROUNDS"); do
		for c in $ROUND_ORDER; do
			setup_case "$c"
			tm_pin=
			[[ $c == tm-* || $c == other-* ]] && tm_pin=$(pin_of "$c")
			[[ -z $tm_pin ]] || t0=$(tm_up_packets "$tm_pin")
			prog= p0="0 0"
			if ((PROG_STATS)); then
				prog=$(ingress_prog_id "$c")
				[[ -z $prog ]] || p0=$(prog_run_stats "$prog")
			fi
			d0=$(delivered)
			c0=$(cpu_busy_ns)
			read -r _ sent secs < <(tx taskset -c "$CPU" "$FLOOD" --dev vb0 --src 198.18.7.1 \
				--dst 198.18.7.2 --dst-mac "$DST_MAC" --dport 9 --flows "$flows" --seconds "$SECONDS_PER")
			c1=$(cpu_busy_ns)
			sleep 0.2
			d1=$(delivered)
			got=$((d1 - d0))
			if [[ -n $tm_pin ]]; then
				counted=$(($(tm_up_packets "$tm_pin") - t0))
				if ((counted != got)); then
					echo "MISMATCH $c flows=$flows round=$round: counted $counted, delivered $got" >&2
					BAD=1
				fi
			fi
			p1=$p0
			[[ -z $prog ]] || p1=$(prog_run_stats "$prog")
			read -r pt0 pc0 <<<"$p0"
			read -r pt1 pc1 <<<"$p1"
			teardown_case "$c"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$flows" "$round" "$c" "$got" "$sent" "$secs" \
				"$((c1 - c0))" "$((pt1 - pt0))" "$((pc1 - pc0))" >>"$RESULTS"
			printf '%-6s round %s %-16s %9s delivered / %9s sent in %ss\n' "$flows" "$round" "$c" "$got" "$sent" "$secs" >&2
		done
	done
done

python3 - "$RESULTS" "$CASES" "$(nproc)" "$SECONDS_PER" "$ROUNDS" "$PROG_STATS" "$INTERLEAVE" <<'PY'
import math, statistics as st, sys
path, cases, ncpu, secs, rounds = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4], sys.argv[5]
prog_stats, ref = sys.argv[6] == "1", sys.argv[7]
# flows -> trials in the order they ran (the file's): (round, case, pps, CPU ns a packet, program ns a run)
trials = {}
for line in open(path):
    flows, rnd, case, got, sent, el, cpu, pns, pcnt = line.split("\t")
    prog_ns = int(pns) / int(pcnt) if int(pcnt) else float("nan")
    trials.setdefault(int(flows), []).append(
        (int(rnd), case, int(got) / float(el), int(cpu) / max(int(got), 1), prog_ns))
def med(xs):
    return st.median(xs) if xs else float("nan")
def cell(x, fmt):
    """A table cell; a reference not in --cases has no figure: "n/a", not "nan"."""
    return "n/a" if x != x else format(x, fmt)
order = f"{ref} before every case and at the end of each round" if ref else "in turn"
print(f"64-byte frames, {rounds} rounds of {secs} s per case, {order}; medians (per-round ratios and differences, then the median)"
      + (f"; x {ref}: against the {ref} trials just before and after each trial" if ref else "") + ".\n")
for flows, ts in sorted(trials.items()):
    print(f"### {flows} flow{'s' if flows > 1 else ''}\n")
    extra_head, extra_rule = (" program ns/run |", "---:|") if prog_stats else ("", "")
    print("| case | delivered pps | CPU ns/packet | ns added over no hook | x empty (pps) | x minimal (pps) |" + extra_head)
    print("|---|---:|---:|---:|---:|---:|" + extra_rule)
    of = lambda c: [t for t in ts if t[1] == c]
    def neighbours(i):
        """The interleaved reference's trials just before and after trial i, as one: (pps, ns)."""
        near = [t for t in reversed(ts[:i]) if t[1] == ref][:1] + [t for t in ts[i + 1:] if t[1] == ref][:1]
        return (math.prod(t[2] for t in near) ** (1 / len(near)), st.mean(t[3] for t in near)) if near else None
    def pairs(case, base):
        """(case trial, base measurement) pairs: the same round's base trial, or the adjacent ones of an interleaved base."""
        out = []
        for i, t in enumerate(ts):
            if t[1] != case:
                continue
            if case == base:
                out.append(((t[2], t[3]), (t[2], t[3])))
            elif base == ref:
                b = neighbours(i)
                if b:
                    out.append(((t[2], t[3]), b))
            else:
                b = [u for u in ts if u[1] == base and u[0] == t[0]][:1]
                if b:
                    out.append(((t[2], t[3]), (b[0][2], b[0][3])))
        return out
    present = {t[1] for t in ts}
    for c in cases:
        if c not in present:
            continue
        r = of(c)
        pps = med([t[2] for t in r])
        ns = med([t[3] for t in r])
        per = lambda base, f: med([f(a, b) for a, b in pairs(c, base)]) if base in present else float("nan")
        added = per("none", lambda a, b: a[1] - b[1])
        xe = per("empty", lambda a, b: a[0] / b[0])
        xm = per("minimal", lambda a, b: a[0] / b[0])
        extra = ""
        if prog_stats:
            pn = [t[4] for t in r if t[4] == t[4]]
            extra = f" {med(pn):.1f} |" if pn else " |"
        print(f"| {c} | {pps:,.0f} | {ns:.0f} | {cell(added, '+.0f')} | {cell(xe, '.3f')} | {cell(xm, '.3f')} |{extra}")
    print()
    if ref:
        # How far single trials spread around those medians.
        spread = []
        for c in cases:
            q = sorted(a[0] / b[0] for a, b in pairs(c, ref))
            if c != ref and len(q) >= 4:
                spread.append(f"{c} {q[len(q) // 4]:.3f}-{q[3 * len(q) // 4]:.3f}")
        if spread:
            print(f"x {ref} per trial, quartiles: " + ", ".join(spread) + "\n")
PY
if ((BAD)); then
	echo "traffic_meter's counters differed from the delivered packets (above)" >&2
	exit 1
fi
echo "traffic_meter's counters equalled the delivered packets in every trial."
