#!/bin/bash
# Control-plane scale benchmarks (issues 3 and 10): import and show of
# 1,000,000 IPv4 rules, one `add` as a whole process, and the CPU of one
# Prometheus scrape at 100,000 and at 1,000,000 rules, with peak RSS of
# each. Runs the binary in a network namespace of its own (a veth pair)
# with a pin path of its own; the exporter listens on that namespace's
# loopback. Never touches the host's interfaces. Prints a markdown table.
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

# scrape_cpu MAX_SERIES: starts the exporter, scrapes /metrics 5 times and
# prints "median CPU seconds per scrape (user+sys of the exporter), bytes of
# the last scrape, the exporter's peak RSS in KiB".
scrape_cpu() {
	local port=19464 pid i a b samples=() bytes
	ip -n "$NS" link set lo up
	nsenter --net="/run/netns/$NS" "$BIN" --pin-path "$PIN" serve --listen "127.0.0.1:$port" \
		--max-series "$1" >/dev/null 2>"$WORK/serve.err" &
	pid=$!
	for i in $(seq 100); do
		nsenter --net="/run/netns/$NS" curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.05
	done
	local tck
	tck=$(getconf CLK_TCK)
	for i in 1 2 3 4 5; do
		a=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		bytes=$(nsenter --net="/run/netns/$NS" curl -sf -o /dev/null -w '%{size_download}' \
			"http://127.0.0.1:$port/metrics")
		b=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		samples+=("$(awk -v a="$a" -v b="$b" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')")
	done
	local hwm
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	kill "$pid" && wait "$pid" 2>/dev/null || true
	printf '%s\n' "${samples[@]}" | sort -n | awk -v b="$bytes" -v h="$hwm" 'NR == 3 { print $1, b, h }'
}

# 100,000 of the rules first: the scrape target is set at that size.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); json.dump({"rules": d["rules"][:100000]}, open(sys.argv[2], "w"))' \
	"$WORK/rules.json" "$WORK/rules100k.json"
tm import --file "$WORK/rules100k.json" >/dev/null
read -r scrape100k_cpu scrape100k_bytes scrape100k_kb < <(scrape_cpu 1000000)
read -r scrape100k_fold_cpu _ scrape100k_fold_kb < <(scrape_cpu 10000)
echo "scrape of 100k rules: ${scrape100k_cpu} s CPU (folded to 10000 series: ${scrape100k_fold_cpu} s)" >&2
tm purge >/dev/null
tm load --dev tmb0 --max-rules "$CAPACITY" >/dev/null

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
read -r scrape1m_cpu scrape1m_bytes scrape1m_kb < <(scrape_cpu 10000000)
read -r scrape1m_fold_cpu _ scrape1m_fold_kb < <(scrape_cpu 10000)
read -r nsenter_s _ _ < <(measure nsenter --net="/run/netns/$NS" true)

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 < t) ? "met" : "MISSED" }'; }

echo "| benchmark ($RULES IPv4 rules, --max-rules $CAPACITY) | time | CPU (user+sys) | peak RSS | target |"
echo "|---|---:|---:|---:|---|"
echo "| import --file (1 process) | ${import_s} s | ${import_cpu} s | $((import_kb / 1024)) MiB | < 2 s: $(verdict "$import_s" 2) |"
echo "| show --json | ${json_s} s | ${json_cpu} s | $((json_kb / 1024)) MiB | < 1 s: $(verdict "$json_s" 1) |"
echo "| show (table) | ${table_s} s | ${table_cpu} s | $((table_kb / 1024)) MiB | reported |"
echo "| show --csv | ${csv_s} s | ${csv_cpu} s | $((csv_kb / 1024)) MiB | reported |"
echo "| add, one rule, whole process ($add_tool) | ${add_ms} ms | | | < 20 ms: $(verdict "${add_ms%% *}" 20) |"
echo "| one scrape, 100,000 rules, every rule a series ($((scrape100k_bytes / 1024)) KiB) | | ${scrape100k_cpu} s | $((scrape100k_kb / 1024)) MiB | < 0.5 s CPU: $(verdict "$scrape100k_cpu" 0.5) |"
echo "| one scrape, 100,000 rules, --max-series 10000 (default) | | ${scrape100k_fold_cpu} s | $((scrape100k_fold_kb / 1024)) MiB | reported |"
echo "| one scrape, $RULES rules, every rule a series ($((scrape1m_bytes / 1024)) KiB) | | ${scrape1m_cpu} s | $((scrape1m_kb / 1024)) MiB | reported |"
echo "| one scrape, $RULES rules, --max-series 10000 (default) | | ${scrape1m_fold_cpu} s | $((scrape1m_fold_kb / 1024)) MiB | reported |"
echo
echo "Scrapes: the exporter's own CPU (user+sys from /proc/PID/stat), median of 5 scrapes; RSS is the exporter's peak (VmHWM)."
echo "Times include nsenter (alone: ${nsenter_s} s). Peak RSS from /usr/bin/time (maximum resident set size)."
