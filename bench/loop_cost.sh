#!/bin/bash
# What traffic_meter's attached ingress program costs in BPF_PROG_TEST_RUN's
# loop, against the empty program, on the very frame bench/frame_flood sends
# and with the state of a veth_bench `tm-10-tcx` trial (10 rules, the flow
# established by the first run). It is the loop column beside veth_bench's
# `--prog-stats` column: what a program costs with everything hot, against
# what it costs on the real receive path (docs/BENCHMARKS.md, stops 34-35).
#
# usage: bench/loop_cost.sh BUILDDIR [--object OBJ] [--runs N]
#   --object OBJ  load this BPF object instead of the build's own (as
#                 veth_bench's --other-object), e.g. a stage object of
#                 bench/stages/
#   --runs N      runs of each program, alternating (default 5); each run
#                 is `bpftool prog run ... repeat 2000000` on CPU 1
# Prints each run's ns a packet and the medians. Needs root; makes its own
# namespace, bpffs and pin path, and touches no host interface.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: bench/loop_cost.sh BUILDDIR [--object OBJ] [--runs N]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILDDIR=$1
shift
OBJECT= RUNS=5
while [ $# -gt 0 ]; do
	case $1 in
	--object) [ $# -ge 2 ] || usage; OBJECT=$(realpath "$2"); shift 2 ;;
	--runs) [ $# -ge 2 ] || usage; RUNS=$2; shift 2 ;;
	*) usage ;;
	esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "loop_cost.sh: --runs must be a positive number, not '$RUNS'" >&2; exit 2; }
[[ -z $OBJECT || -f $OBJECT ]] || { echo "loop_cost.sh: no such object: $OBJECT" >&2; exit 2; }
TM=$(realpath "$BUILDDIR/traffic_meter")
EMPTY=$(realpath "$BUILDDIR/bpf/empty.bpf.o")
[[ -x $TM && -f $EMPTY ]] || { echo "loop_cost.sh: build $BUILDDIR first (ninja -C $BUILDDIR)" >&2; exit 2; }

NS=tm-loop-$$
WORK=$(mktemp -d /tmp/tm-loop.XXXXXX)
FS=$WORK/bpffs PIN=$WORK/bpffs/tm
cleanup() {
	nsenter --net="/run/netns/$NS" "$TM" --pin-path "$PIN" purge >/dev/null 2>&1 || true
	ip netns del "$NS" 2>/dev/null || true
	umount "$FS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

mkdir "$FS"
mount -t bpf bpf "$FS"
ip netns add "$NS"
ip -n "$NS" link add vb0 type veth peer name vb1
ip -n "$NS" link set vb0 up
ip -n "$NS" link set vb1 up
object=()
[[ -z $OBJECT ]] || object=(--object "$OBJECT")
in_ns "$TM" --pin-path "$PIN" load --dev vb1 --attach-mode tcx "${object[@]}" >/dev/null
rules=()
for r in 198.18.7.1/32 198.18.7.2/32 10.0.{0..7}.0/24; do rules+=(--ip-address "$r"); done
in_ns "$TM" --pin-path "$PIN" add "${rules[@]}" >/dev/null
PROG=$(in_ns "$TM" --pin-path "$PIN" status --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["program_id"])')
bpftool prog load "$EMPTY" "$FS/empty" type classifier

# frame_flood's frame: Ethernet, IPv4 198.18.7.1 -> 198.18.7.2, UDP to
# port 9, 18 bytes of payload (60 bytes).
python3 - "$WORK/frame" <<'PY'
import struct, sys
udp = struct.pack('!HHHH', 40000, 9, 26, 0) + bytes(18)
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 46, 0, 0, 64, 17, 0, bytes([198, 18, 7, 1]),
                 bytes([198, 18, 7, 2]))
open(sys.argv[1], 'wb').write(bytes.fromhex('020000000002' '020000000001' '0800') + ip + udp)
PY

run() { # bpftool's program argument... -> ns a packet
	taskset -c 1 bpftool prog run "$@" data_in "$WORK/frame" repeat 2000000 |
		sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p'
}
empty=() tm=()
for ((i = 0; i < RUNS; i++)); do
	empty+=("$(run pinned "$FS/empty")")
	tm+=("$(run id "$PROG")")
done
echo "empty:          ${empty[*]} ns"
echo "traffic_meter:  ${tm[*]} ns"
python3 - "${empty[*]}" "${tm[*]}" <<'PY'
import statistics as st, sys
e, t = (st.median(map(int, a.split())) for a in sys.argv[1:])
print(f"median: empty {e:g} ns, traffic_meter {t:g} ns, +{t - e:g} ns")
PY
