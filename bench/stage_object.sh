#!/bin/bash
# Builds traffic_meter's program with one of bench/stages/'s patches
# applied, for an A/B of a stage, or of the calls of kernels before 6.10,
# on the real path (veth_bench --other-object) and in the loop
# (bench/loop_cost.sh --object, bench/dp_ab.sh). Called by
# bench/meson.build, which passes the compiler and bpf/meson.build's flags.
#
# usage: bench/stage_object.sh PATCH OUT.bpf.o BPF_SOURCE_DIR CLANG [FLAGS...]
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: bench/stage_object.sh PATCH OUT.bpf.o BPF_SOURCE_DIR CLANG [FLAGS...]" >&2; exit 2; }
patch_file=$(realpath "$1") out=$(realpath "$2") src=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/bpf"
# Exactly (no fuzz), or not at all: a patch whose context drifted could
# cut the program somewhere else than its docs say.
patch --quiet --forward --fuzz=0 -d "$work" -p1 <"$patch_file" ||
	{ echo "stage_object.sh: $patch_file no longer applies to bpf/ without fuzz: refresh it" >&2; exit 1; }
# The copy's own headers come first: quoted includes are looked up beside
# the file that includes them.
"$@" -c "$work/bpf/traffic_meter.bpf.c" -o "$out"
