#!/bin/bash
# A/B of two builds of bpf/traffic_meter.bpf.c with dp_bench, in both
# orders: dp_bench runs --object and --base-object in the same trials,
# alternating, but on this machine the object given as --base-object reads
# a few percent faster whatever it is (where each lands in memory). So
# every round runs A against B and then B against A, for IPv4 and IPv6;
# the effect of A is half the difference between the two orders' medians
# of dp_bench's "vs 2 rules" column, which cancels that bias. Run it with
# A and B the same object (an A/A run) to see the method's resolution.
#
# usage: bench/dp_ab.sh A.bpf.o B.bpf.o [ROUNDS] [BUILDDIR] [-- dp_bench options...]
#   defaults: 3 rounds, builddir-bench; dp_bench runs --quick --trials 11
#   on CPU 1. Needs root; touches no interface. Prints one line a family.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { echo "usage: bench/dp_ab.sh A.bpf.o B.bpf.o [ROUNDS] [BUILDDIR] [-- dp_bench options...]" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
shift 2
ROUNDS=3 BUILDDIR=builddir-bench
[ $# -gt 0 ] && [ "$1" != "--" ] && { ROUNDS=$1; shift; }
[ $# -gt 0 ] && [ "$1" != "--" ] && { BUILDDIR=$1; shift; }
[ "${1:-}" = "--" ] && shift
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "dp_ab.sh: ROUNDS must be a positive number, not '$ROUNDS'" >&2; exit 2; }
for f in "$A" "$B"; do [ -f "$f" ] || { echo "dp_ab.sh: no such object: $f" >&2; exit 2; }; done
[ -x "$BUILDDIR/bench/dp_bench" ] || { echo "dp_ab.sh: build $BUILDDIR first (ninja -C $BUILDDIR)" >&2; exit 2; }

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

# One dp_bench run; appends "ORDER FAMILY NS PERCENT" per case row, the
# columns found by their names in dp_bench's table header.
run() {
	local order=$1 family=$2 object=$3 base=$4
	shift 4
	taskset -c 1 "$BUILDDIR/bench/dp_bench" "$BUILDDIR/bpf/empty.bpf.o" --quick --trials 11 \
		--family "$family" --object "$object" --base-object "$base" "$@" 2>/dev/null |
		awk -F'|' -v o="$order" -v f="$family" '
			/^\| family/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/^ +| +$/, "", h);
				if (h == "ns/packet (min)") ns = i; if (h == "vs 2 rules") pct = i } }
			/^\| IPv/ && ns && pct { gsub(/[ %+]/, "", $ns); gsub(/[ %+]/, "", $pct);
				print o, f, $ns, $pct }' >>"$rows"
}

for _ in $(seq "$ROUNDS"); do
	for family in 4 6; do
		run ab "$family" "$A" "$B" "$@"
		run ba "$family" "$B" "$A" "$@"
	done
done

python3 - "$rows" <<'EOF'
import statistics, sys

rows = {}
for line in open(sys.argv[1]):
    order, family, ns, pct = line.split()
    rows.setdefault((order, family), []).append((float(ns), float(pct)))
for family in "46":
    ab, ba = rows.get(("ab", family)), rows.get(("ba", family))
    if not ab or not ba:
        sys.exit(f"dp_ab.sh: dp_bench printed no IPv{family} rows")
    ab_pct = statistics.median(p for _, p in ab)
    ba_pct = statistics.median(p for _, p in ba)
    print(f"IPv{family}: A {(ab_pct - ba_pct) / 2:+.1f}% against B "
          f"(A as object {ab_pct:+.1f}%, B as object {ba_pct:+.1f}%, {len(ab)} cases each); "
          f"ns median A {statistics.median(n for n, _ in ab):.1f}, B {statistics.median(n for n, _ in ba):.1f}")
EOF
