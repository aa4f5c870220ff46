#!/bin/bash
# Control-plane scale benchmarks (issue 3): import and show of 1,000,000
# IPv4 rules, one `add` as a whole process, peak RSS of `show`. Runs the
# binary in a network namespace of its own (a veth pair) with a pin path
# of its own; never touches the host's interfaces. Prints a markdown table.
#
# usage: bench/cli_scale.sh [BUILDDIR]   (default: builddir-bench)
set -euo pipefail

BUILDDIR=${1:-builddir-bench}
BIN=$(realpath "$BUILDDIR/traffic_meter")
RULES=${TM_BENCH_RULES:-1000000}
NS=tm-bench-$$
PIN=/sys/fs/bpf/tm-bench-$$
WORK=$(mktemp -d /tmp/tm-bench.XXXXXX)

cleanup() {
	nsenter --net="/run/netns/$NS" "$BIN" --pin-path "$PIN" purge >/dev/null 2>&1 || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

# A command, not a function: /usr/bin/time runs it.
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s --pin-path %s "$@"\n' "$NS" "$BIN" "$PIN" >"$WORK/tm"
chmod +x "$WORK/tm"
tm() { "$WORK/tm" "$@"; }

# Elapsed seconds, peak RSS (KiB) and CPU seconds (user + sys) of one
# command, output kept in $WORK/out.
measure() {
	/usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
		cat "$WORK/err" >&2
		return 1
	}
	awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$WORK/time"
}

ip netns add "$NS"
ip -n "$NS" link add tmb0 type veth peer name tmb1
ip -n "$NS" link set tmb0 up && ip -n "$NS" link set tmb1 up
# Room for the add benchmark: a table holding exactly RULES rules is full.
CAPACITY=${TM_BENCH_CAPACITY:-1048576}
tm load --dev tmb0 --max-rules "$CAPACITY" >/dev/null

# RULES distinct IPv4 rules: nine in ten are /32s in 10.0.0.0/8, the
# tenth /24s from 11.0.0.0/8 on.
awk -v n="$RULES" 'BEGIN {
	printf "{\"rules\": [";
	for (i = 0; i < n; i++) {
		if (i % 10 == 9) {
			j = int(i / 10);
			r = sprintf("%d.%d.%d.0/24", 11 + int(j / 65536), int(j / 256) % 256, j % 256);
		} else {
			k = i - int(i / 10);
			r = sprintf("10.%d.%d.%d/32", int(k / 65536) % 256, int(k / 256) % 256, k % 256);
		}
		printf "%s\"%s\"", (i ? ", " : ""), r;
	}
	printf "]}\n";
}' >"$WORK/rules.json"
UNIQUE=$(python3 -c 'import json,sys; print(len(set(json.load(open(sys.argv[1]))["rules"])))' "$WORK/rules.json")
if [ "$UNIQUE" != "$RULES" ]; then
	echo "rule file holds $UNIQUE distinct rules, not $RULES" >&2
	exit 1
fi

read -r import_s import_kb import_cpu < <(measure "$WORK/tm" import --file "$WORK/rules.json")
echo "import: $import_s s, $import_kb KiB" >&2
read -r json_s json_kb json_cpu < <(measure "$WORK/tm" show --json)
echo "show --json: $json_s s, $json_kb KiB" >&2
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rules"]))' "$WORK/out")
[ "$count" = "$RULES" ] || { echo "show --json printed $count rules, expected $RULES" >&2; exit 1; }
read -r table_s table_kb table_cpu < <(measure "$WORK/tm" show)
read -r csv_s csv_kb csv_cpu < <(measure "$WORK/tm" show --csv)

# One add, whole process (with RULES rules present); the rule is deleted
# before each run so every run really adds.
add_cmd="nsenter --net=/run/netns/$NS $BIN --pin-path $PIN add --ip-address 198.18.0.0/24"
del_cmd="nsenter --net=/run/netns/$NS $BIN --pin-path $PIN del --ip-address 198.18.0.0/24 >/dev/null 2>&1 || true"
if command -v hyperfine >/dev/null; then
	hyperfine --warmup 3 --runs 30 --prepare "$del_cmd" --export-json "$WORK/add.json" \
		"$add_cmd" >"$WORK/hyperfine.log" 2>&1 || { cat "$WORK/hyperfine.log" >&2; exit 1; }
	add_ms=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f (median %.1f, min %.1f)" % (r["mean"]*1e3, r["median"]*1e3, r["min"]*1e3))' "$WORK/add.json")
	add_tool="hyperfine, 30 runs"
else
	total=0
	for _ in $(seq 30); do
		eval "$del_cmd"
		t0=$(date +%s%N)
		$add_cmd >/dev/null
		total=$((total + $(date +%s%N) - t0))
	done
	add_ms=$(awk -v t="$total" 'BEGIN { printf "%.1f", t / 30 / 1e6 }')
	add_tool="shell loop, 30 runs"
fi
read -r nsenter_s _ _ < <(measure nsenter --net="/run/netns/$NS" true)

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 < t) ? "met" : "MISSED" }'; }

echo "| benchmark ($RULES IPv4 rules, --max-rules $CAPACITY) | time | CPU (user+sys) | peak RSS | target |"
echo "|---|---:|---:|---:|---|"
echo "| import --file (1 process) | ${import_s} s | ${import_cpu} s | $((import_kb / 1024)) MiB | < 5 s: $(verdict "$import_s" 5) |"
echo "| show --json | ${json_s} s | ${json_cpu} s | $((json_kb / 1024)) MiB | < 3 s: $(verdict "$json_s" 3) |"
echo "| show (table) | ${table_s} s | ${table_cpu} s | $((table_kb / 1024)) MiB | reported |"
echo "| show --csv | ${csv_s} s | ${csv_cpu} s | $((csv_kb / 1024)) MiB | reported |"
echo "| add, one rule, whole process ($add_tool) | ${add_ms} ms | | | < 20 ms: $(verdict "${add_ms%% *}" 20) |"
echo
echo "Times include nsenter (alone: ${nsenter_s} s). Peak RSS from /usr/bin/time (maximum resident set size)."
