#!/bin/bash
# Data plane microbenchmark (BPF_PROG_TEST_RUN, repeat mode): builds the
# bench build directory and prints a markdown table. Needs root (loading BPF
# and test runs); touches no interface. `--cli` also runs bench/cli_scale.sh.
#
# usage: bench/run.sh [--cli] [BUILDDIR] [-- dp_bench options...]
set -euo pipefail
cd "$(dirname "$0")/.."

cli=0
if [ "${1:-}" = "--cli" ]; then
	cli=1
	shift
fi
BUILDDIR=${1:-builddir-bench}
shift || true
[ "${1:-}" = "--" ] && shift

[ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" >/dev/null
ninja -C "$BUILDDIR" bench/dp_bench bpf/empty.bpf.o traffic_meter >/dev/null

echo "## Data plane: ns per packet, established flow (BPF_PROG_TEST_RUN repeat)"
echo
"$BUILDDIR/bench/dp_bench" "$BUILDDIR/bpf/empty.bpf.o" "$@"
if [ "$cli" = 1 ]; then
	echo
	echo "## Control plane at scale"
	echo
	bench/cli_scale.sh "$BUILDDIR"
fi
