#!/bin/bash
# Where traffic_meter's program spends its time, by source function:
# `perf record -C 1` (cpu-clock: this machine's guest has no PMU) while the
# program runs, each sample inside it mapped through the JIT's line table
# (bench/jit_lines) to the function of bpf/ (or the shared header) whose
# line it is. Everything is inlined into the entry point, so the line
# table is what still says which function an instruction came from.
#   default     dp_bench --spin: an established flow, BPF_PROG_TEST_RUN's
#               loop, everything in L1 (the program alone)
#   --veth C    one long trial of bench/veth_bench.sh's case C, 1 flow:
#               the real receive path, with the rest of the stack between
#               two packets (docs/BENCHMARKS.md, "Stop 26"); --flows N
#               for N flows (64000 with tm-churn-tcx: every packet a new
#               flow under churn)
# Prints the program's share of CPU 1's samples, a table by function, the
# hottest source lines, the instructions the run executed by function (the
# basic blocks with samples; objdump disassembles the image), and CPU 1's
# functions with most samples, where the
# program's helper calls show. cpu-clock samples are timer interrupts: one
# due while interrupts are off is taken when they come back on, so a
# helper that restores them (bpf_spin_unlock) carries the samples of the
# whole section they were off for. Multiply the shares by a benchmark's ns
# per packet for ns (dp_bench's figure, or veth_bench's CPU ns per packet).
#
# usage: bench/prog_profile.sh [BUILDDIR] [--veth CASE [--flows N]] [--seconds S] [--top N] [-- dp_bench options...]
#   defaults: builddir-bench, 4 s recorded, 15 lines; dp_bench --quick --family 4
# Needs root and perf (symbols from the live /proc/kallsyms: a program loaded
# where an earlier one was would otherwise take its name from perf's cache);
# touches no host interface (veth_bench makes its own
# namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDDIR=builddir-bench VETH_CASE='' FLOWS=1 SECONDS_REC=4 TOP=15
while (($#)); do
	case $1 in
	--veth) VETH_CASE=$2 && shift 2 ;;
	--flows) FLOWS=$2 && shift 2 ;;
	--seconds) SECONDS_REC=$2 && shift 2 ;;
	--top) TOP=$2 && shift 2 ;;
	--) shift && break ;;
	-h | --help) sed -n '2,/^set /s/^# \{0,1\}//p' "$0" && exit 0 ;;
	*) BUILDDIR=$1 && shift ;;
	esac
done
DP_ARGS=("$@")
((${#DP_ARGS[@]})) || DP_ARGS=(--quick --family 4)
[[ $(id -u) == 0 ]] || { echo "prog_profile.sh: run as root" >&2; exit 1; }
command -v perf >/dev/null || { echo "prog_profile.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
[[ -z $VETH_CASE || $VETH_CASE == tm-* || $VETH_CASE == other-* ]] ||
	{ echo "prog_profile.sh: --veth $VETH_CASE: not a traffic_meter case (tm-R-MODE)" >&2; exit 2; }
[[ $FLOWS == 1 || -n $VETH_CASE ]] || { echo "prog_profile.sh: --flows goes with --veth" >&2; exit 2; }
[[ $FLOWS =~ ^[1-9][0-9]*$ ]] || { echo "prog_profile.sh: --flows must be a whole number" >&2; exit 2; }
[[ $SECONDS_REC =~ ^[1-9][0-9]*$ ]] || { echo "prog_profile.sh: --seconds must be a whole number" >&2; exit 2; }
[ -f "$BUILDDIR/build.ninja" ] || meson setup "$BUILDDIR" >/dev/null
ninja -C "$BUILDDIR" bench/dp_bench bench/jit_lines bpf/empty.bpf.o >/dev/null

WORK=$(mktemp -d /tmp/tm-prof.XXXXXX)
LOAD_PID=''
cleanup() {
	# The load is a process group of its own: TERM reaches veth_bench's
	# flood as well (bash would run veth_bench's cleanup, which removes its
	# namespaces and pins, only once its foreground flood had ended).
	[[ -z $LOAD_PID ]] || { kill -TERM -- "-$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null; } || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The load runs well past the recording; it is stopped once the program's
# image has been read.
LONG=$((SECONDS_REC + 60))
if [[ -n $VETH_CASE ]]; then
	setsid bench/veth_bench.sh "$BUILDDIR" --rounds 1 --seconds "$LONG" --flows "$FLOWS" --cases "$VETH_CASE" \
		>"$WORK/load.out" 2>"$WORK/load.err" &
	LOAD_PID=$!
	# frame_flood runs twice: a warm-up, then the trial. Only this load's
	# (its session, which setsid made LOAD_PID's): not another bench's.
	wait_flood() { # up|down
		local tries=1200
		while ((tries-- > 0)); do
			if pgrep -s "$LOAD_PID" -x frame_flood >/dev/null; then [[ $1 == up ]] && return; else [[ $1 == down ]] && return; fi
			kill -0 "$LOAD_PID" 2>/dev/null || { cat "$WORK/load.err" >&2; exit 1; }
			sleep 0.1
		done
		echo "prog_profile.sh: the trial did not start" >&2
		exit 1
	}
	wait_flood up
	wait_flood down
	wait_flood up
else
	setsid taskset -c 1 "$BUILDDIR/bench/dp_bench" "$BUILDDIR/bpf/empty.bpf.o" "${DP_ARGS[@]}" --spin "$LONG" \
		>"$WORK/load.out" 2>"$WORK/load.err" &
	LOAD_PID=$!
	# dp_bench spins right after it prints its first case's figures.
	until grep -q "flows: min" "$WORK/load.err"; do
		kill -0 "$LOAD_PID" 2>/dev/null || { cat "$WORK/load.err" >&2; exit 1; }
		sleep 0.2
	done
fi
sleep 1
perf record -q -N -C 1 -F 20000 -o "$WORK/perf.data" -- sleep "$SECONDS_REC" >/dev/null 2>&1
perf script -i "$WORK/perf.data" --kallsyms /proc/kallsyms -F ip,sym,symoff >"$WORK/samples" 2>/dev/null

# The traffic_meter program with the most samples, by its main function's
# address (perf names it by that function's tag, which bpftool does not
# show): any sample's address less its offset.
ADDR=$(awk 'match($0, /bpf_prog_[0-9a-f]+_tm_[a-z0-9_]+\+0x[0-9a-f]+/) {
		sym = substr($0, RSTART, RLENGTH); split(sym, p, "+"); n[p[1]]++; at[p[1]] = $1 " " p[2] }
	END { for (s in n) if (n[s] > best) { best = n[s]; pick = at[s] } print pick }' "$WORK/samples")
[[ -n $ADDR ]] || { echo "prog_profile.sh: no samples in a traffic_meter program" >&2; exit 1; }
ADDR=$(printf '%x' $((0x${ADDR% *} - ${ADDR#* })))
"$BUILDDIR/bench/jit_lines" "$ADDR" "$WORK/image" >"$WORK/lines"

python3 - "$WORK" "$TOP" "${VETH_CASE:-dp_bench --spin ${DP_ARGS[*]}}" <<'PY'
import bisect, collections, glob, os, re, subprocess, sys
work, top, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
samples, names, symbols = collections.Counter(), collections.Counter(), collections.Counter()
total = 0
for line in open(f"{work}/samples"):
    total += 1
    fields = line.split()
    symbols[re.sub(r"\+0x[0-9a-f]+$", "", fields[1]) if len(fields) > 1 else "[unknown]"] += 1
    m = re.search(r"(bpf_prog_[0-9a-f]+_tm_\w+)\+0x([0-9a-f]+)", line)
    if m:
        names[m.group(1)] += 1
        samples[(m.group(1), int(m.group(2), 16))] += 1
name = names.most_common(1)[0][0]  # the program jit_lines read
samples = collections.Counter({off: n for (sym, off), n in samples.items() if sym == name})
ours = sum(samples.values())
# Source line -> function: the last "static ... name(" at or above it.
starts = {}
for path in glob.glob("bpf/*.[ch]") + glob.glob("include/*.h"):
    marks = []
    for n, text in enumerate(open(path), 1):
        m = re.match(r"static\b[^(]*?\b(\w+)\(", text) or re.match(r"(TM_BUILD)\(", text)
        if m:
            marks.append((n, m.group(1)))
    starts[os.path.basename(path)] = marks
def function_of(file, line):
    marks = starts.get(file, [])
    i = bisect.bisect_right([n for n, _ in marks], line) - 1
    if line == 0:
        return "(no source line)"
    if i < 0:
        return f"({file}, outside functions)"
    return "entry point" if marks[i][1] == "TM_BUILD" else marks[i][1]
table = []
for text in open(f"{work}/lines"):
    off, where = text.split()
    file, _, line = where.rpartition(":")
    table.append((int(off), file, int(line)))
table.sort()
offsets = [t[0] for t in table]
def source_at(off):
    """(file, line) of the image's instruction at off, by the line table."""
    i = bisect.bisect_right(offsets, off) - 1
    return (table[i][1], table[i][2]) if i >= 0 else ("?", 0)
by_function, by_line = collections.Counter(), collections.Counter()
for off, n in samples.items():
    file, line = source_at(off)
    by_function[function_of(file, line)] += n
    by_line[(file, line, function_of(file, line))] += n
print(f"{what}: {name}, {ours} of CPU 1's {total} samples ({100 * ours / max(total, 1):.1f}%)\n")
print("| function (inlined) | share of the program's samples |")
print("|---|---:|")
for fn, n in by_function.most_common():
    print(f"| `{fn}` | {100 * n / ours:.1f}% |")
print(f"\nhottest source lines:\n")
print("| line | function | share |")
print("|---|---|---:|")
for (file, line, fn), n in by_line.most_common(top):
    print(f"| {file}:{line} | `{fn}` | {100 * n / ours:.1f}% |")
# The path's length: the basic blocks of the image that hold a sample ran
# (a cpu-clock sample names an instruction about to retire), so their
# instructions are the path, or a little less of it (a short block can go
# unsampled). Fewer instructions is what has made the established path
# cheaper (docs/BENCHMARKS.md, stops 25 and 30). Needs objdump (binutils).
try:
    dis = subprocess.run(["objdump", "-b", "binary", "-m", "i386:x86-64", "-D", f"{work}/image"],
                         capture_output=True, text=True, check=True).stdout
except (OSError, subprocess.CalledProcessError):
    dis = ""
insns = []  # (offset, mnemonic and operands)
for text in dis.splitlines():
    m = re.match(r"\s+([0-9a-f]+):\t[0-9a-f ]+\t(.+)$", text)
    if m:
        insns.append((int(m.group(1), 16), m.group(2).strip()))
if insns:
    leaders = {insns[0][0]}
    for k, (off, ins) in enumerate(insns):
        if re.match(r"(j|ret|call)", ins):
            if k + 1 < len(insns):
                leaders.add(insns[k + 1][0])
            t = re.search(r"\b0x([0-9a-f]+)$", ins)
            if ins.startswith("j") and t:
                leaders.add(int(t.group(1), 16))
    blocks, block = [], []
    for off, ins in insns:
        if off in leaders and block:
            blocks.append(block)
            block = []
        block.append(off)
    blocks.append(block)
    ran = [b for b in blocks if any(samples.get(off) for off in b)]
    per_function = collections.Counter()
    for b in ran:
        for off in b:
            per_function[function_of(*source_at(off))] += 1
    total_ran = sum(per_function.values())
    print(f"\ninstructions run, by inlined function: {total_ran} x86 instructions in the {len(ran)} basic blocks that hold samples\n")
    print("| function (inlined) | instructions |")
    print("|---|---:|")
    for fn, n in per_function.most_common():
        print(f"| `{fn}` | {n} |")
print(f"\nCPU 1's functions with most samples (traffic_meter's program: {name}):\n")
print("| function | share of CPU 1's samples |")
print("|---|---:|")
for sym, n in symbols.most_common(top):
    print(f"| `{sym}` | {100 * n / max(total, 1):.1f}% |")
PY
