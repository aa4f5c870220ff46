#!/bin/bash
# The data-plane benchmark (dp_bench, BPF_PROG_TEST_RUN) on Debian's 5.10
# and 6.1 kernels, in the qemu VMs of tests/kernels/run.sh (issue "Fast
# path": per-CPU map lookups are helper calls before 6.10). qemu runs them
# under KVM where the host's /dev/kvm can boot them (VT-x or AMD-V behind
# it), and under TCG elsewhere: it says which (TM_VM_ACCEL of
# tests/kernels/run.sh, auto here; tcg or kvm to choose). Under TCG every
# instruction is emulated, so the ns are not those of hardware; the ratio
# to the empty program in the same VM is the figure to compare, and the
# same command runs on this machine's kernel for reference.
#
# usage: [TM_DP_BENCH_ARGS=...] [TM_VM_ACCEL=auto|kvm|tcg] bench/kernel_bench.sh [BUILDDIR] [KERNEL...]
#        (default: builddir-bench, 5.10 6.1)
# Needs root. Prints each kernel's dp_bench table.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILDDIR=${1:-builddir-bench}
shift || true
[ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" >/dev/null
ninja -C "$BUILDDIR" traffic_meter bench/dp_bench bpf/empty.bpf.o >/dev/null
# 1,000 rules (--quick), IPv4, fewer repeats than on hardware: TCG is about
# 20-50x slower. TM_DP_BENCH_ARGS replaces these (for instance
# "--family 4 --max-rules 100000 --repeat 100000 --trials 5"; an A/B adds
# "--object A.o --base-object B.o", and runs again with the two swapped:
# the objects are copied into the VM).
ARGS=${TM_DP_BENCH_ARGS:-"--quick --family 4 --repeat 100000 --trials 5"}
echo "## This machine ($(uname -r)), dp_bench $ARGS"
echo
"$BUILDDIR/bench/dp_bench" "$BUILDDIR/bpf/empty.bpf.o" $ARGS 2>/dev/null
echo
TM_VM_ACCEL=${TM_VM_ACCEL:-auto} TM_VM_BENCH="$BUILDDIR/bench/dp_bench $BUILDDIR/bpf/empty.bpf.o $ARGS" \
	tests/kernels/run.sh "$BUILDDIR/traffic_meter" "$@" | grep -v '^  \|: [0-9]* rules in place'
