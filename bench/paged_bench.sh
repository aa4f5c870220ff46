#!/bin/bash
# What a packet whose headers are not in the skb's linear part costs
# traffic_meter's program, against the same packet linear, on the real
# receive path: the paged path of stop 36 (docs/BENCHMARKS.md, "Stop 37").
# BPF_PROG_TEST_RUN cannot time it: its frames are always linear.
#
# A tap device takes frames as a guest or a NIC driver hands them to the
# kernel (bench/frame_flood --tap-split, IFF_NAPI_FRAGS, GRO off so that
# nothing pulls the headers): UDP/IPv4 frames, either whole in the
# linear part (split 0) or with only their Ethernet header there (split
# 14), trial by trial alternating, one flow, 10 rules. The figure is the
# ingress program's own ns a run, from the kernel's program statistics
# (BPF_ENABLE_STATS), so what the tap and the stack cost around it does
# not count. Each trial checks that traffic_meter counted every frame
# written, and the paged trials that every frame took the paged path
# (`status --json` dataplane.paged).
#
# usage: bench/paged_bench.sh BUILDDIR [--rounds N] [--seconds S] [--payload N] [--object OBJ]
#   --rounds N    trials of each layout, alternating (default 7)
#   --payload N   UDP payload bytes (default 18: a 60-byte frame, the
#                 shortest; stop 36's paged path took frames of 64 bytes or
#                 more only)
#   --seconds S   length of a trial (default 1)
#   --object OBJ  traffic_meter loads this BPF object instead of the
#                 build's own, e.g. another build of bpf/ to compare
# Needs root; makes its own namespace, bpffs and pin path, and touches no
# host interface.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh

usage() { echo "usage: bench/paged_bench.sh BUILDDIR [--rounds N] [--seconds S] [--payload N] [--object OBJ]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILDDIR=$1
shift
ROUNDS=7 SECONDS_PER=1 PAYLOAD=18 OBJECT=
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case $1 in
	--rounds) ROUNDS=$2 ;;
	--seconds) SECONDS_PER=$2 ;;
	--payload) PAYLOAD=$2 ;;
	--object) OBJECT=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "paged_bench.sh: --rounds must be a positive number, not '$ROUNDS'" >&2; exit 2; }
[[ $SECONDS_PER =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "paged_bench.sh: --seconds must be a number, not '$SECONDS_PER'" >&2; exit 2; }
[[ $PAYLOAD =~ ^[0-9]+$ ]] && ((PAYLOAD >= 18 && PAYLOAD <= 1472)) ||
	{ echo "paged_bench.sh: --payload must be 18..1472, not '$PAYLOAD'" >&2; exit 2; }
[[ -z $OBJECT || -f $OBJECT ]] || { echo "paged_bench.sh: no such object: $OBJECT" >&2; exit 2; }
TM=$BUILDDIR/traffic_meter FLOOD=$BUILDDIR/bench/frame_flood
[[ -x $TM && -x $FLOOD ]] || { echo "paged_bench.sh: build $BUILDDIR first (ninja -C $BUILDDIR)" >&2; exit 2; }
[[ -c /dev/net/tun ]] || { echo "paged_bench.sh: /dev/net/tun missing (modprobe tun)" >&2; exit 2; }
command -v ethtool >/dev/null || { echo "paged_bench.sh: ethtool missing (apt-get install ethtool)" >&2; exit 2; }
TM=$(realpath "$TM") FLOOD=$(realpath "$FLOOD")
[[ -z $OBJECT ]] || OBJECT=$(realpath "$OBJECT")

STATS_PID=
tm() { in_ns "$TM" --pin-path "$PIN" "$@"; }
bench_cleanup() {
	[[ -z $STATS_PID ]] || kill "$STATS_PID" 2>/dev/null || true
	tm purge >/dev/null 2>&1 || true
}
bench_lab paged
TAP_MAC=02:00:00:00:44:01
ip -n "$NS" tuntap add dev tp0 mode tap
ip -n "$NS" link set tp0 address $TAP_MAC up
ip -n "$NS" addr add 198.18.44.1/24 dev tp0
# The frames go to 198.18.7.2, which is neither local nor routed: dropped
# after the hook, with nothing sent back.
in_ns sysctl -qw net.ipv4.ip_forward=0
in_ns ethtool -K tp0 gro off
object=()
[[ -z $OBJECT ]] || object=(--object "$OBJECT")
tm load --dev tp0 --max-rules 1034 "${object[@]}" >/dev/null
bench/rules_file.py 10 "$WORK/rules.json"
tm import --file "$WORK/rules.json" >/dev/null
PROG=$(tm status --json | status_program_id)
STATS_PID=$(bpf_stats_hold)

send() { # SPLIT SECONDS -> "SENT n secs"
	in_ns taskset -c 1 "$FLOOD" --dev tp0 --tap-split "$1" --src-mac 02:00:00:00:44:02 \
		--src 198.18.7.1 --dst 198.18.7.2 --dst-mac $TAP_MAC --dport 9 --payload "$PAYLOAD" --seconds "$2"
}
up_packets() { tm show --json --ip-address 198.18.7.1/32 | show_up_packets; }
paged_count() { tm status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataplane"]["paged"])'; }

send 0 1 >/dev/null # warm-up, not recorded
RESULTS=$WORK/results.tsv
BAD=0
for round in $(seq "$ROUNDS"); do
	for split in 0 14; do
		u0=$(up_packets) g0=$(paged_count)
		read -r t0 c0 < <(prog_run_stats "$PROG")
		read -r _ sent secs < <(send "$split" "$SECONDS_PER")
		read -r t1 c1 < <(prog_run_stats "$PROG")
		counted=$(($(up_packets) - u0)) paged=$(($(paged_count) - g0)) runs=$((c1 - c0))
		((runs > 0)) || { echo "paged_bench.sh: the program did not run: no BPF statistics?" >&2; exit 1; }
		if ((counted != sent || runs != sent)); then
			echo "MISMATCH split $split round $round: $sent written, $counted counted, $runs runs" >&2
			BAD=1
		fi
		if ((paged != (split ? sent : 0))); then
			echo "MISMATCH split $split round $round: $sent written, $paged paged" >&2
			BAD=1
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$split" "$sent" "$secs" "$(((t1 - t0) * 1000 / runs))" >>"$RESULTS"
		printf 'round %s split %-2s %9s frames in %ss, %s ns a run\n' "$round" "$split" "$sent" "$secs" \
			"$(awk "BEGIN { printf \"%.1f\", ($t1 - $t0) / $runs }")" >&2
	done
done

echo "$((42 + PAYLOAD))-byte frames, $ROUNDS rounds of ${SECONDS_PER}s"
python3 - "$RESULTS" <<'PY'
import statistics as st, sys
runs = {0: [], 14: []}
rate = {0: [], 14: []}
for line in open(sys.argv[1]):
    rnd, split, sent, secs, ns_milli = line.split("\t")
    runs[int(split)].append(int(ns_milli) / 1000)
    rate[int(split)].append(int(sent) / float(secs))
lin, pag = st.median(runs[0]), st.median(runs[14])
diffs = [p - l for l, p in zip(runs[0], runs[14])]
print(f"{'layout':<34} {'ns a run':>9} {'frames/s':>10}")
print(f"{'linear (split 0)':<34} {lin:9.1f} {st.median(rate[0]):10.0f}")
print(f"{'paged, Ethernet linear (split 14)':<34} {pag:9.1f} {st.median(rate[14]):10.0f}")
print(f"paged - linear: +{st.median(diffs):.1f} ns a run (median of {len(diffs)} rounds' differences), "
      f"{pag / lin:.2f}x")
PY
exit "$BAD"
