#!/bin/bash
# What a TC program costs in BPF_PROG_TEST_RUN's loop, against the empty
# program, on the very frame bench/frame_flood sends: the loop column beside
# veth_bench's `--prog-stats` column, what a program costs with everything
# hot against what it costs on the real receive path (docs/BENCHMARKS.md,
# stops 34-35). By default the program is traffic_meter's attached ingress
# program, with the state of a veth_bench `tm-10-tcx` trial: the same 10
# rules and --max-rules, the flow established by the first run.
#
# usage: bench/loop_cost.sh BUILDDIR [--object OBJ | --program OBJ] [--runs N]
#   --object OBJ   traffic_meter loads this BPF object instead of the build's
#                  own (as veth_bench's --other-object), e.g. a stage object
#                  of bench/stages/
#   --program OBJ  a plain TC program instead of traffic_meter, e.g. one of
#                  veth_bench's comparison cases (BUILDDIR/bench/*.bpf.o)
#   --runs N       runs of each program, alternating (default 5); each run
#                  is `bpftool prog run ... repeat 2000000` on CPU 1
# Prints each run's ns a packet and the medians. Needs root; makes its own
# namespace, bpffs and pin path, and touches no host interface.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/bench_lib.sh
source bench/bench_lib.sh

usage() { echo "usage: bench/loop_cost.sh BUILDDIR [--object OBJ | --program OBJ] [--runs N]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILDDIR=$1
shift
OBJECT= PROGRAM= RUNS=5
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case $1 in
	--object) OBJECT=$2 ;;
	--program) PROGRAM=$2 ;;
	--runs) RUNS=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[[ -z $OBJECT || -z $PROGRAM ]] || { echo "loop_cost.sh: --object and --program exclude each other" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "loop_cost.sh: --runs must be a positive number, not '$RUNS'" >&2; exit 2; }
for f in $OBJECT $PROGRAM; do [ -f "$f" ] || { echo "loop_cost.sh: no such object: $f" >&2; exit 2; }; done
TM=$BUILDDIR/traffic_meter FLOOD=$BUILDDIR/bench/frame_flood EMPTY=$BUILDDIR/bpf/empty.bpf.o
[[ -x $TM && -x $FLOOD && -f $EMPTY ]] || { echo "loop_cost.sh: build $BUILDDIR first (ninja -C $BUILDDIR)" >&2; exit 2; }
TM=$(realpath "$TM") FLOOD=$(realpath "$FLOOD") EMPTY=$(realpath "$EMPTY")
[[ -z $OBJECT ]] || OBJECT=$(realpath "$OBJECT")
[[ -z $PROGRAM ]] || PROGRAM=$(realpath "$PROGRAM")

bench_cleanup() {
	[[ -n $PROGRAM ]] || in_ns "$TM" --pin-path "$PIN" purge >/dev/null 2>&1 || true
}
bench_lab loop
ip -n "$NS" link add vb0 type veth peer name vb1
ip -n "$NS" link set vb0 up
ip -n "$NS" link set vb1 up
DST_MAC=$(ip -n "$NS" -j link show vb1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
in_ns "$FLOOD" --dev vb0 --src 198.18.7.1 --dst 198.18.7.2 --dst-mac "$DST_MAC" --dport 9 \
	--write-frame "$WORK/frame"

bpftool prog load "$EMPTY" "$FS/empty" type classifier
if [[ -n $PROGRAM ]]; then
	bpftool prog load "$PROGRAM" "$FS/program" type classifier
	name=$(basename "$PROGRAM" .bpf.o) prog=(pinned "$FS/program")
else
	object=()
	[[ -z $OBJECT ]] || object=(--object "$OBJECT")
	in_ns "$TM" --pin-path "$PIN" load --dev vb1 --attach-mode tcx --max-rules 1034 "${object[@]}" >/dev/null
	bench/rules_file.py 10 "$WORK/rules.json"
	in_ns "$TM" --pin-path "$PIN" import --file "$WORK/rules.json" >/dev/null
	name=traffic_meter
	prog=(id "$(in_ns "$TM" --pin-path "$PIN" status --json | status_program_id)")
fi

run() { # bpftool's program argument... -> ns a packet
	taskset -c 1 bpftool prog run "$@" data_in "$WORK/frame" repeat 2000000 |
		sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p'
}
empty=() timed=()
for ((i = 0; i < RUNS; i++)); do
	empty+=("$(run pinned "$FS/empty")")
	timed+=("$(run "${prog[@]}")")
done
printf '%-15s %s ns\n' "empty:" "${empty[*]}" "$name:" "${timed[*]}"
python3 - "$name" "${empty[*]}" "${timed[*]}" <<'PY'
import statistics as st, sys
name = sys.argv[1]
e, t = (st.median(map(int, a.split())) for a in sys.argv[2:])
print(f"median: empty {e:g} ns, {name} {t:g} ns, +{t - e:g} ns")
PY
