#!/bin/bash
# Command-level tests: run the built traffic_meter as an operator would, each
# test in a network namespace and a pin path of its own (SPEC §6).
#
#   run_cli_tests.sh TRAFFIC_METER FOREIGN_BPF_O TRAFFIC_METER_BPF_O [TEST...]
#
# Needs root. Uses only 198.18.0.0/15 and 2001:db8::/32 inside namespaces it
# creates; never touches the host's interfaces. Everything is removed on
# exit, also on failure (TM_CLI_KEEP=1 keeps the lab of a failed run).
set -u

TM_BIN=$(realpath "${1:?usage: $0 TRAFFIC_METER FOREIGN_BPF_O [TEST...]}")
FOREIGN_O=$(realpath "${2:?usage: $0 TRAFFIC_METER FOREIGN_BPF_O TRAFFIC_METER_BPF_O [TEST...]}")
TM_BPF_O=$(realpath "${3:?usage: $0 TRAFFIC_METER FOREIGN_BPF_O TRAFFIC_METER_BPF_O [TEST...]}")
shift 3
RUN_ID="tmc$$"
E2E_DIR=$(cd "$(dirname "$0")/../e2e" && pwd)
WORK=$(mktemp -d "/tmp/tm-cli-$RUN_ID.XXXXXX")
NAMESPACES=()
PIN_PATHS=()
MOUNTS=()
CURRENT=""
CASE_FAILED=0
PASSED=()
FAILED=()

teardown_all() {
	local ns pin m
	# An exporter a failed case left running.
	if [ -n "${SERVE_PID:-}" ]; then
		kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
		SERVE_PID=""
	fi
	for pin in "${PIN_PATHS[@]}"; do
		for ns in "${NAMESPACES[@]}"; do
			nsenter --net="/run/netns/$ns" "$TM_BIN" --pin-path "$pin" purge >/dev/null 2>&1
		done
		rm -rf "$pin" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		umount -l "$m" 2>/dev/null
	done
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	NAMESPACES=()
	PIN_PATHS=()
	MOUNTS=()
}
trap 'teardown_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- lab helpers

# new_ns VAR SUFFIX: a namespace with lo up, its name in VAR. (Not a
# command substitution: the subshell would lose it from NAMESPACES.)
new_ns() {
	local ns="$RUN_ID-$CURRENT-$2"
	ns=${ns:0:60}
	ip netns add "$ns" || return 1
	NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "$1" '%s' "$ns"
}

# veth NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a link between two namespaces.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# ping_n NS DST COUNT PAYLOAD: COUNT echo requests of PAYLOAD bytes, bounded.
ping_n() {
	nsenter --net="/run/netns/$1" ping -q -n -c "$3" -s "$4" -i 0.01 -W 2 -w 10 "$2" >/dev/null
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s; 1 if it never held.
wait_until() {
	local tries=$(($1 * 10))
	shift
	while ((tries-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- running tm

NS=""  # namespace tm runs in
PIN="" # pin path tm uses

use() {
	NS=$1
	PIN="/sys/fs/bpf/$RUN_ID-$CURRENT"
	PIN_PATHS+=("$PIN")
}

# tm ARGS...: runs traffic_meter in $NS with $PIN; sets RC, OUT, ERR.
tm() {
	nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

# tm_ok ARGS...: tm that must succeed.
tm_ok() {
	tm "$@"
	[ "$RC" -eq 0 ] || fail "traffic_meter $* exited $RC: $ERR"
}

fail() {
	echo "    FAIL ($CURRENT): $*" >&2
	CASE_FAILED=1
	return 1
}

expect_eq() { # WHAT ACTUAL EXPECTED
	[ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"
}

expect_contains() { # WHAT HAYSTACK NEEDLE
	[[ "$2" == *"$3"* ]] || fail "$1: '$2' does not contain '$3'"
}

# expect_error RC NEEDLE ARGS...: exits RC, stdout empty, one line on stderr
# naming the problem.
expect_error() {
	local want_rc=$1 needle=$2
	shift 2
	tm "$@"
	expect_eq "exit status of '$*'" "$RC" "$want_rc"
	expect_eq "stdout of '$*'" "$OUT" ""
	expect_eq "stderr lines of '$*'" "$(printf '%s\n' "$ERR" | wc -l)" 1
	expect_contains "stderr of '$*'" "$ERR" "$needle"
	[[ "$ERR" == traffic_meter:* ]] || fail "stderr of '$*' does not start with 'traffic_meter:': $ERR"
}

# counters RULE: "up_bytes up_packets down_bytes down_packets" of one rule.
counters() {
	tm show --ip-address "$1" --csv
	[ "$RC" -eq 0 ] || { fail "show $1: $ERR"; echo "-"; return; }
	printf '%s\n' "$OUT" | awk -F, 'NR==2 {print $3, $4, $5, $6}'
}

rule_list() {
	tm list
	printf '%s\n' "$OUT"
}

# Two namespaces joined by a veth: $A (198.18.0.1, dev a0) and $B (198.18.0.2,
# dev b0). tm runs in $A.
lab_pair() {
	new_ns A a && new_ns B b || return 1
	veth "$A" a0 198.18.0.1/24 "$B" b0 198.18.0.2/24 || return 1
	use "$A"
}

# IP bytes of COUNT IPv4 echo packets with PAYLOAD bytes: COUNT * (28 + PAYLOAD),
# written out inline as $((COUNT * (28 + PAYLOAD))).

# ---------------------------------------------------------------- the tests

test_usage_errors() {
	new_ns A a || return 1
	use "$A"
	expect_error 2 "invalid IP address '10.0.0.300'" add --ip-address 10.0.0.300
	expect_error 2 "did you mean 10.0.0.0/24?" add --ip-address 10.0.0.1/24
	expect_error 2 "did you mean 2001:db8::/64?" del --ip-address 2001:db8::1/64
	expect_error 2 "invalid prefix length in '10.0.0.0/33'" add --ip-address 10.0.0.0/33
	expect_error 2 "invalid IPv6 address" show --ip-address 2001:db8:::1
	expect_error 2 "invalid IP address" reset --ip-address garbage
	expect_error 2 "--bogus" show --bogus
	expect_error 2 "unknown command 'frobnicate'; see --help" frobnicate
	expect_error 2 "subcommand is required"
	expect_error 2 "--csv" show --csv --json
	expect_error 2 "--dev" load
	expect_error 2 "--ip-address" add
	expect_error 2 "--sort" show --sort sideways
	expect_error 2 "--max-rules" load --dev lo --max-rules 0
	expect_error 2 "--max-rules" load --dev lo --max-rules lots
	# The counters hold a row of --max-rules entries for each possible CPU,
	# in one map of at most 2^32 - 1 entries.
	local cpus
	cpus=$(awk -F, '{for (i = 1; i <= NF; i++) {n = split($i, r, "-"); c += n == 2 ? r[2] - r[1] + 1 : 1}} END {print c}' /sys/devices/system/cpu/possible)
	[ "$cpus" -ge 2 ] || fail "this case needs two possible CPUs, not $cpus"
	expect_error 2 "--max-rules 4294967295 is too large for $cpus CPUs: the counters hold at most $((4294967295 / cpus)) rules" \
		load --dev lo --max-rules 4294967295
	expect_error 2 "exactly one of --dev IF or --all" unload
	expect_error 2 "--all" unload --dev lo --all
	expect_error 2 "cannot read $WORK/nope.json" import --file "$WORK/nope.json"
	echo '{"rules": [' >"$WORK/broken.json"
	expect_error 2 "not valid JSON" import --file "$WORK/broken.json"
	# Bad input is refused before the state is looked at: nothing was made.
	[ ! -e "$PIN" ] || fail "a usage error created $PIN"
}

test_without_state() {
	new_ns A a || return 1
	use "$A"
	local cmd
	for cmd in "show" "list" "export" "status" "reset" "add --ip-address 198.18.0.1" \
		"del --ip-address 198.18.0.1" "show --ip-address 198.18.0.1" "unload --dev lo" \
		"unload --all"; do
		# shellcheck disable=SC2086
		expect_error 1 "run \`traffic_meter load --dev IF\` first" $cmd
	done
	echo '["198.18.0.1"]' >"$WORK/one.json"
	expect_error 1 "run \`traffic_meter load --dev IF\` first" import --file "$WORK/one.json"
	tm purge
	expect_eq "purge without state" "$RC" 0
}

test_help() {
	new_ns A a || return 1
	use "$A"
	local cmd
	for cmd in "" load unload purge add del import export list show stats reset status; do
		# shellcheck disable=SC2086
		tm $cmd --help
		expect_eq "exit status of '$cmd --help'" "$RC" 0
		expect_contains "'$cmd --help'" "$OUT" "Usage:"
		# shellcheck disable=SC2086
		tm $cmd -h
		expect_eq "exit status of '$cmd -h'" "$RC" 0
	done
	tm --version
	expect_eq "--version" "$RC" 0
	expect_contains "--version" "$OUT" "traffic_meter "
	# Global options after the command too.
	"$TM_BIN" show --help --pin-path /nonexistent >/dev/null
	expect_eq "global option after the command" "$?" 0
}

test_rules_basic() {
	lab_pair || return 1
	expect_error 1 "no such interface 'nope0'" load --dev nope0
	[ ! -e "$PIN/tm_config" ] || fail "a failed load left state behind"
	tm_ok load --dev a0
	expect_contains "load output" "$OUT" "attached to a0"
	# One bad address among good ones: nothing is added.
	expect_error 2 "invalid IP address 'bogus'" add --ip-address 198.18.0.0/24 --ip-address bogus
	expect_eq "list after refused add" "$(rule_list)" ""
	tm_ok add --ip-address 198.18.0.0/24 --ip-address 2001:DB8::/64 --ip-address 10.0.0.1
	expect_eq "add output" "$OUT" $'added 10.0.0.1/32\nadded 198.18.0.0/24\nadded 2001:db8::/64'
	expect_eq "list" "$(rule_list)" $'10.0.0.1/32\n198.18.0.0/24\n2001:db8::/64'
	expect_error 1 "no such rule 198.18.9.0/24" del --ip-address 198.18.9.0/24
	expect_error 1 "no such rule 198.18.9.9/32" show --ip-address 198.18.9.9
	expect_error 1 "no such rule 198.18.9.9/32" reset --ip-address 198.18.9.9
	# del of two rules, one missing: nothing is deleted.
	expect_error 1 "no such rule 198.18.7.0/24" del --ip-address 10.0.0.1 --ip-address 198.18.7.0/24
	expect_eq "list after refused del" "$(rule_list)" $'10.0.0.1/32\n198.18.0.0/24\n2001:db8::/64'
	tm_ok show --ip-address 2001:db8:0::/64
	expect_eq "show one rule" "$(printf '%s\n' "$OUT" | wc -l)" 2
	tm_ok del --ip-address 10.0.0.1/32
	expect_eq "del output" "$OUT" "deleted 10.0.0.1/32"
	expect_eq "list after del" "$(rule_list)" $'198.18.0.0/24\n2001:db8::/64'
	tm_ok list --json
	expect_eq "list --json" "$OUT" '{"rules": ["198.18.0.0/24", "2001:db8::/64"]}'
	tm_ok show --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert [r["rule"] for r in d["rules"]]==["198.18.0.0/24","2001:db8::/64"], d' ||
		fail "show --json: $OUT"
	tm_ok show --csv
	expect_eq "show --csv header" "$(printf '%s\n' "$OUT" | head -1)" "rule,family,up_bytes,up_packets,down_bytes,down_packets"
	tm_ok stats -H
	expect_contains "stats -H" "$OUT" "0 B"
}

test_add_existing_keeps_counters() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.1
	ping_n "$A" 198.18.0.2 4 100 || fail "ping"
	local before b=$((4 * (28 + 100)))
	before=$(counters 198.18.0.1/32)
	expect_eq "counters after ping" "$before" "$b 4 $b 4"
	tm add --ip-address 198.18.0.1/32 --ip-address 198.18.0.99 --ip-address 198.18.0.1
	expect_eq "add existing: exit" "$RC" 0
	expect_eq "add existing: stdout" "$OUT" "added 198.18.0.99/32"
	expect_eq "add existing: notice, once" "$ERR" "traffic_meter: rule 198.18.0.1/32 already exists; its counters are kept"
	expect_eq "counters after re-add" "$(counters 198.18.0.1/32)" "$before"
	expect_eq "new rule starts at zero" "$(counters 198.18.0.99/32)" "0 0 0 0"
	tm_ok reset --ip-address 198.18.0.1
	expect_eq "counters after reset" "$(counters 198.18.0.1/32)" "0 0 0 0"
}

test_import_atomic() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.0/24
	cat >"$WORK/bad.json" <<-'EOF'
	{"rules": ["198.18.1.0/24", "198.18.2.1/24", "2001:db8::/64", "bogus", 42]}
	EOF
	expect_error 2 "3 invalid entries, nothing imported" import --file "$WORK/bad.json"
	expect_contains "names entry 2" "$ERR" "entry 2: host bits set in '198.18.2.1/24': did you mean 198.18.2.0/24?"
	expect_contains "names entry 4" "$ERR" "entry 4: invalid IP address 'bogus'"
	expect_contains "names entry 5" "$ERR" "entry 5: not a string: 42"
	expect_eq "rules unchanged" "$(rule_list)" "198.18.0.0/24"
	tm import --file "$WORK/bad.json" --replace
	expect_eq "exit status of --replace with a bad file" "$RC" 2
	expect_eq "rules unchanged by --replace of a bad file" "$(rule_list)" "198.18.0.0/24"
	# A bare array is accepted.
	echo '["198.18.1.0/24", "2001:db8::/64"]' >"$WORK/good.json"
	tm_ok import --file "$WORK/good.json"
	expect_eq "import output" "$OUT" "imported $WORK/good.json: 2 added, 0 already present, 0 deleted"
	expect_eq "rules after import" "$(rule_list)" $'198.18.0.0/24\n198.18.1.0/24\n2001:db8::/64'
	# The same rule twice, in two spellings, is one rule.
	echo '["198.18.2.0/24", "2001:db8::/64", "2001:DB8:0::/64", "198.18.2.0/24"]' >"$WORK/dups.json"
	tm_ok import --file "$WORK/dups.json"
	expect_eq "import with duplicates" "$OUT" "imported $WORK/dups.json: 1 added, 1 already present, 0 deleted"
	tm_ok import --replace --file "$WORK/dups.json"
	expect_eq "import --replace with duplicates" "$OUT" "imported $WORK/dups.json: 0 added, 2 already present, 2 deleted"
}

test_import_replace() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.1 --ip-address 198.18.0.2 --ip-address 198.18.5.0/24
	ping_n "$A" 198.18.0.2 3 200 || fail "ping"
	local b=$((3 * (28 + 200)))
	expect_eq "198.18.0.1 before" "$(counters 198.18.0.1/32)" "$b 3 $b 3"
	echo '{"rules": ["198.18.0.1/32", "2001:db8::/48"]}' >"$WORK/replace.json"
	tm_ok import --replace --file "$WORK/replace.json"
	expect_eq "import --replace output" "$OUT" \
		"imported $WORK/replace.json: 1 added, 1 already present, 2 deleted"
	expect_eq "rules after --replace" "$(rule_list)" $'198.18.0.1/32\n2001:db8::/48'
	expect_eq "kept rule keeps counters" "$(counters 198.18.0.1/32)" "$b 3 $b 3"
	expect_eq "new rule at zero" "$(counters 2001:db8::/48)" "0 0 0 0"
	# Re-adding a deleted rule starts from zero.
	tm_ok add --ip-address 198.18.0.2
	expect_eq "re-added rule at zero" "$(counters 198.18.0.2/32)" "0 0 0 0"
	# --replace with the same set changes nothing.
	tm_ok import --replace --file "$WORK/replace.json"
	expect_eq "no-op --replace" "$(rule_list)" $'198.18.0.1/32\n2001:db8::/48'
}

test_export_roundtrip() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.0/15 --ip-address 2001:db8::1 --ip-address 198.18.3.4 \
		--ip-address 2001:db8:ab::/48 --ip-address 0.0.0.0/0 --ip-address ::/0
	tm_ok export
	local exported=$OUT
	printf '%s\n' "$OUT" >"$WORK/export.json"
	expect_eq "export" "$exported" \
		'{"rules": ["0.0.0.0/0", "198.18.0.0/15", "198.18.3.4/32", "::/0", "2001:db8::1/128", "2001:db8:ab::/48"]}'
	tm_ok purge
	tm_ok load --dev a0
	expect_eq "rules after purge" "$(rule_list)" ""
	tm_ok import --file "$WORK/export.json"
	tm_ok export
	expect_eq "export after import" "$OUT" "$exported"
}

test_reload_same_interface() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.1 --ip-address 198.18.0.2
	ping_n "$A" 198.18.0.2 5 100 || fail "ping"
	local b=$((5 * (28 + 100))) b2=$((3 * (28 + 300)))
	expect_eq "before re-load" "$(counters 198.18.0.1/32)" "$b 5 $b 5"
	tm_ok load --dev a0
	expect_eq "after re-load" "$(counters 198.18.0.1/32)" "$b 5 $b 5"
	expect_eq "after re-load (peer)" "$(counters 198.18.0.2/32)" "$b 5 $b 5"
	# Still counting, and only once per packet: one filter per hook.
	ping_n "$A" 198.18.0.2 3 300 || fail "ping"
	expect_eq "after more traffic" "$(counters 198.18.0.1/32)" "$((b + b2)) 8 $((b + b2)) 8"
	# Re-loads while traffic flows: no packet uncounted or counted twice in
	# the switch-over.
	tm_ok reset
	nsenter --net="/run/netns/$A" ping -q -n -c 300 -s 100 -i 0.005 -W 2 -w 20 198.18.0.2 >/dev/null &
	local pinger=$! i
	for i in 1 2 3; do
		tm_ok load --dev a0
	done
	wait "$pinger" || fail "ping during re-loads"
	local b3=$((300 * 128))
	expect_eq "counted through 3 re-loads" "$(counters 198.18.0.1/32)" "$b3 300 $b3 300"
	local n
	if [[ ${TRAFFIC_METER_ATTACH_MODE:-auto} == netlink ]]; then
		n=$(nsenter --net="/run/netns/$A" tc filter show dev a0 ingress | grep -c "bpf.*handle")
	else
		n=$(find "$PIN/links" -name 'if*_ingress' | wc -l)
	fi
	expect_eq "our ingress hooks after re-load" "$n" 1
	tm_ok status --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); i=d["interfaces"]; assert len(i)==1 and i[0]["name"]=="a0" and i[0]["ingress"] and i[0]["egress"], i' ||
		fail "status --json after re-load: $OUT"
}

test_unload_load_other() {
	# A is a router-ish host with two links: a0 to B and a1 to C.
	new_ns A a && new_ns B b && new_ns C c || return 1
	veth "$A" a0 198.18.0.1/24 "$B" b0 198.18.0.2/24 || return 1
	veth "$A" a1 198.18.1.1/24 "$C" c0 198.18.1.2/24 || return 1
	use "$A"
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.0/24 --ip-address 198.18.1.0/24
	ping_n "$A" 198.18.0.2 4 100 || fail "ping B"
	local b=$((4 * (28 + 100))) c=$((6 * (28 + 50)))
	# Both ends of each packet are in 198.18.0.0/24: counted once there.
	expect_eq "after traffic on a0" "$(counters 198.18.0.0/24)" "$b 4 $b 4"
	tm_ok unload --dev a0
	expect_eq "unload output" "$OUT" "detached from a0"
	expect_eq "after unload" "$(counters 198.18.0.0/24)" "$b 4 $b 4"
	ping_n "$A" 198.18.0.2 2 100 || fail "ping B"
	expect_eq "not counted while unloaded" "$(counters 198.18.0.0/24)" "$b 4 $b 4"
	tm_ok load --dev a1
	expect_eq "after load of a1" "$(counters 198.18.0.0/24)" "$b 4 $b 4"
	ping_n "$A" 198.18.1.2 6 50 || fail "ping C"
	expect_eq "a1 counts" "$(counters 198.18.1.0/24)" "$c 6 $c 6"
	expect_eq "a0 rule untouched" "$(counters 198.18.0.0/24)" "$b 4 $b 4"
	tm_ok load --dev a0
	tm_ok unload --all
	expect_contains "unload --all" "$OUT" "detached from a0"
	expect_contains "unload --all" "$OUT" "detached from a1"
	expect_eq "after unload --all" "$(counters 198.18.1.0/24)" "$c 6 $c 6"
	tm_ok unload --all
	expect_eq "unload --all with nothing attached" "$OUT" "traffic_meter is attached nowhere; nothing to detach"
	expect_error 1 "not attached to a0" unload --dev a0
}

# Packets the foreign filter (prio 1 on a0 ingress) has counted.
foreign_packets() {
	local ns="nsenter --net=/run/netns/$A" prog map
	prog=$($ns tc filter show dev a0 ingress pref 1 | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -1)
	map=$(bpftool prog show id "$prog" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["map_ids"][0])')
	bpftool map lookup id "$map" key 0 0 0 0 -j |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(int.from_bytes(bytes(int(b,16) for b in v), "little"))'
}

test_foreign_filter() {
	lab_pair || return 1
	local ns="nsenter --net=/run/netns/$A"
	$ns tc qdisc add dev a0 clsact || return 1
	# Loaded by bpftool and pinned in a directory of this test's own: tc's
	# own loader would leave /sys/fs/bpf/{tc,ip,xdp} behind on the host.
	local foreign="/sys/fs/bpf/$RUN_ID-$CURRENT-foreign"
	PIN_PATHS+=("$foreign")
	mkdir -p "$foreign" && bpftool prog load "$FOREIGN_O" "$foreign/prog" type classifier || return 1
	$ns tc filter add dev a0 ingress prio 1 bpf da object-pinned "$foreign/prog" || return 1
	tm_ok load --dev a0 --attach-mode netlink
	tm_ok add --ip-address 198.18.0.2
	local p0 p1 p2 b=$((3 * (28 + 100)))
	p0=$(foreign_packets)
	ping_n "$A" 198.18.0.2 3 100 || fail "ping"
	p1=$(foreign_packets)
	expect_eq "foreign filter's packets while loaded" "$((p1 - p0))" 3
	expect_eq "counted behind the foreign filter" "$(counters 198.18.0.2/32)" "$b 3 $b 3"
	tm_ok unload --dev a0
	$ns tc qdisc show dev a0 | grep -q clsact || fail "clsact removed while a foreign filter is on it"
	$ns tc filter show dev a0 ingress | grep -q "name foreign_counter" || fail "foreign filter removed by unload"
	ping_n "$A" 198.18.0.2 3 100 || fail "ping"
	p2=$(foreign_packets)
	expect_eq "foreign filter's packets after unload" "$((p2 - p1))" 3
	# Load and unload again with the foreign filter in place, both ways.
	tm_ok load --dev a0 --attach-mode netlink
	tm_ok unload --dev a0
	tm_ok load --dev a0 --attach-mode tcx
	p1=$(foreign_packets)
	tm_ok reset
	ping_n "$A" 198.18.0.2 2 100 || fail "ping"
	expect_eq "foreign filter's packets beside TCX" "$(($(foreign_packets) - p1))" 2
	expect_eq "counted with TCX beside the foreign filter" "$(counters 198.18.0.2/32)" "$((2 * 128)) 2 $((2 * 128)) 2"
	tm_ok unload --dev a0
	$ns tc filter show dev a0 ingress | grep -q "name foreign_counter" || fail "foreign filter removed by the second unload"
	# Once the foreign filter is gone, a load/unload cycle leaves no clsact.
	$ns tc filter del dev a0 ingress prio 1 || fail "removing the foreign filter"
	$ns tc qdisc del dev a0 clsact
	tm_ok load --dev a0 --attach-mode netlink
	$ns tc qdisc show dev a0 | grep -q clsact || fail "load did not create clsact"
	tm_ok unload --dev a0
	if $ns tc qdisc show dev a0 | grep -q clsact; then fail "unload left our clsact behind"; fi
}

test_object_option() {
	lab_pair || return 1
	expect_error 2 "cannot read --object $WORK/none.o" load --dev a0 --object "$WORK/none.o"
	expect_error 1 "not a traffic_meter object" load --dev a0 --object "$FOREIGN_O"
	printf 'not an ELF file\n' >"$WORK/text.o"
	expect_error 1 "cannot open BPF object $WORK/text.o: BPF object format invalid" \
		load --dev a0 --object "$WORK/text.o"
	[ ! -e "$PIN/tm_config" ] || fail "a refused --object left state behind"
	if nsenter --net="/run/netns/$A" tc qdisc show dev a0 | grep -q clsact; then
		fail "a refused --object left clsact behind"
	fi
	# The README's usage: the object file built next to the binary.
	tm_ok load --dev a0 --object "$TM_BPF_O"
	tm_ok add --ip-address 198.18.0.2
	ping_n "$A" 198.18.0.2 2 64 || fail "ping"
	local b=$((2 * (28 + 64)))
	expect_eq "counted with --object" "$(counters 198.18.0.2/32)" "$b 2 $b 2"
	# Swapping the embedded object in keeps the counters.
	tm_ok load --dev a0
	expect_eq "after re-load with the embedded object" "$(counters 198.18.0.2/32)" "$b 2 $b 2"
}

# A load with other capacities moves both attached interfaces onto the new
# maps; every counter is kept and keeps counting; shrinking below the rules
# in use is refused and changes nothing.
test_resize_keeps_counters() {
	lab_pair || return 1
	veth "$A" a1 198.18.1.1/24 "$B" b1 198.18.1.2/24 || return 1
	tm_ok load --dev a0 --max-rules 4 --max-flows 64
	tm_ok load --dev a1
	tm_ok add --ip-address 198.18.0.2 --ip-address 198.18.1.2 --ip-address 198.18.0.0/16
	ping_n "$A" 198.18.0.2 3 100 || fail "ping over a0"
	ping_n "$A" 198.18.1.2 2 200 || fail "ping over a1"
	local b0=$((3 * 128)) b1=$((2 * 228))
	expect_eq "a0's peer before" "$(counters 198.18.0.2/32)" "$b0 3 $b0 3"
	expect_eq "a1's peer before" "$(counters 198.18.1.2/32)" "$b1 2 $b1 2"

	expect_error 2 "--max-rules 2 is too small: 3 rules are in use" load --dev a0 --max-rules 2
	tm_ok status
	expect_contains "a refused shrink changes nothing" "$OUT" "rules:       3 of 4"
	tm_ok load --dev a0 --max-rules 16 --max-flows 128
	expect_contains "load says it resized" "$OUT" "resized: 16 rules, 128 flows"
	expect_eq "a0's peer after" "$(counters 198.18.0.2/32)" "$b0 3 $b0 3"
	expect_eq "a1's peer after" "$(counters 198.18.1.2/32)" "$b1 2 $b1 2"
	expect_eq "the /16 after" "$(counters 198.18.0.0/16)" "$((b0 + b1)) 5 $((b0 + b1)) 5"

	# a1 was not named by the resizing load: it counts into the new maps too.
	ping_n "$A" 198.18.1.2 1 200 || fail "ping over a1 after resize"
	expect_eq "a1's peer counts on" "$(counters 198.18.1.2/32)" "$((b1 + 228)) 3 $((b1 + 228)) 3"
	tm_ok status --json
	local ids
	ids=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(len({i["program_id"] for i in d["interfaces"]}), d["rules"]["capacity"], d["flows"]["capacity"], d["dataplane"]["flow_insert_failed"])')
	# Every packet found a bucket: a program told of more buckets than its
	# table has (a load that reused the table) would count failures here.
	expect_eq "one program on both interfaces, new capacities, no flow without a bucket" "$ids" "1 16 128 0"
}

# A resize carries the flows it finds in the live table into the new one:
# B's second answer, after the resize, is still downstream (had the flow
# been lost, B would be its originator and the answer upstream).
test_resize_keeps_flow_direction() {
	lab_pair || return 1
	tm_ok load --dev a0 --max-flows 64
	tm_ok add --ip-address 198.18.0.2
	answered_flow_start || return 1
	expect_eq "the request up, the answer down" "$(counters 198.18.0.2/32)" "100 1 200 1"
	tm_ok load --dev a0 --max-flows 128
	expect_contains "load says it resized" "$OUT" "128 flows"
	answered_flow_finish
	expect_eq "the second answer down too" "$(counters 198.18.0.2/32)" "100 1 400 2"
}

# What an operator sees when the kernel's verifier refuses the program:
# one line that says so (the log with -v), exit 1, and nothing left behind.
test_verifier_rejection() {
	lab_pair || return 1
	local rejected=${TM_REJECTED_BPF_O:?set by meson}
	expect_error 1 "the kernel's verifier rejected the BPF program" load --dev a0 --object "$rejected"
	[ ! -e "$PIN/tm_config" ] || fail "a rejected object left state behind"
	tm load --dev a0 --object "$rejected" -v
	expect_eq "exit status with -v" "$RC" 1
	expect_contains "verifier log with -v" "$ERR" "invalid access to packet"
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2
	expect_error 1 "verifier rejected" load --dev a0 --object "$rejected"
	expect_eq "rules after a rejected re-load" "$(rule_list)" "198.18.0.2/32"
	tm_ok status
	expect_contains "still attached after a rejected re-load" "$OUT" "ingress yes, egress yes"
}

test_table_full() {
	lab_pair || return 1
	tm_ok load --dev a0 --max-rules 4
	expect_error 1 "rule table full (4); reload with --max-rules" add \
		--ip-address 198.18.0.1 --ip-address 198.18.0.2 --ip-address 198.18.0.3 \
		--ip-address 198.18.0.4 --ip-address 198.18.0.5
	expect_eq "nothing added" "$(rule_list)" ""
	tm_ok add --ip-address 198.18.0.1 --ip-address 198.18.0.2 --ip-address 2001:db8::3 \
		--ip-address 198.18.0.4
	expect_error 1 "rule table full (4); reload with --max-rules" add --ip-address 198.18.0.5
	echo '["198.18.0.9"]' >"$WORK/one.json"
	expect_error 1 "rule table full (4)" import --file "$WORK/one.json"
	# Replacing within capacity works; deleting frees room.
	echo '["198.18.0.5", "198.18.0.6", "198.18.0.7", "198.18.0.8"]' >"$WORK/four.json"
	tm_ok import --replace --file "$WORK/four.json"
	expect_eq "after replace" "$(rule_list)" $'198.18.0.5/32\n198.18.0.6/32\n198.18.0.7/32\n198.18.0.8/32'
	tm_ok del --ip-address 198.18.0.5
	tm_ok add --ip-address 198.18.0.1
	tm_ok status
	expect_contains "status fill" "$OUT" "rules:       4 of 4"
	# A load with a larger --max-rules resizes, keeping the rules.
	tm_ok load --dev a0 --max-rules 8
	tm_ok status
	expect_contains "status fill after resize" "$OUT" "rules:       4 of 8"
	expect_eq "rules after resize" "$(rule_list)" $'198.18.0.1/32\n198.18.0.6/32\n198.18.0.7/32\n198.18.0.8/32'
	tm_ok add --ip-address 198.18.0.2 --ip-address 198.18.0.3 --ip-address 198.18.0.4 --ip-address 198.18.0.5
	expect_error 1 "rule table full (8); reload with --max-rules" add --ip-address 198.18.0.9
}

test_concurrent_adds() {
	lab_pair || return 1
	tm_ok load --dev a0
	local p pids=()
	for p in 1 2 3 4 5 6 7 8; do
		(
			for i in $(seq 0 249); do
				nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" add \
					--ip-address "198.18.$p.$i" >/dev/null 2>"$WORK/conc-$p.err" ||
					{ echo "add 198.18.$p.$i failed: $(cat "$WORK/conc-$p.err")"; exit 1; }
			done
		) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "a concurrent adder failed"
	done
	local n
	n=$(rule_list | grep -c .)
	expect_eq "rules after 8 x 250 concurrent adds" "$n" 2000
	for p in 1 2 3 4 5 6 7 8; do
		n=$(rule_list | grep -c "^198\.18\.$p\.")
		expect_eq "rules of adder $p" "$n" 250
	done
	# Re-loads and deletes racing with adds: the lock keeps every change whole.
	pids=()
	for p in 1 2 3 4; do
		(
			for i in $(seq 0 49); do
				nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" del \
					--ip-address "198.18.$p.$i" >/dev/null 2>&1 || exit 1
				nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" add \
					--ip-address "198.19.$p.$i" >/dev/null 2>&1 || exit 1
			done
		) &
		pids+=($!)
	done
	for i in 1 2 3; do
		nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" load --dev a0 >/dev/null ||
			fail "re-load during concurrent changes"
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "a concurrent del/add worker failed"
	done
	n=$(rule_list | grep -c .)
	expect_eq "rules after concurrent del/add/re-load" "$n" 2000
	n=$(rule_list | grep -c '^198\.19\.')
	expect_eq "rules added during re-loads" "$n" 200
	tm_ok status --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["rules"]["count"]==2000, d["rules"]' ||
		fail "status rule count"
}

test_concurrent_first_loads() {
	new_ns A a && new_ns B b || return 1
	local i pids=()
	for i in 0 1 2 3; do
		veth "$A" "a$i" "198.18.$i.1/24" "$B" "b$i" "198.18.$i.2/24" || return 1
	done
	use "$A"
	for i in 0 1 2 3; do
		nsenter --net="/run/netns/$A" "$TM_BIN" --pin-path "$PIN" load --dev "a$i" \
			>/dev/null 2>"$WORK/load-$i.err" &
		pids+=($!)
	done
	for i in 0 1 2 3; do
		wait "${pids[$i]}" || fail "concurrent first load of a$i: $(cat "$WORK/load-$i.err")"
	done
	tm_ok status --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); n=sorted(i["name"] for i in d["interfaces"]); assert n==["a0","a1","a2","a3"] and all(i["ingress"] and i["egress"] for i in d["interfaces"]), d["interfaces"]' ||
		fail "not all four attached: $OUT"
	tm_ok add --ip-address 198.18.0.0/16
	for i in 0 1 2 3; do
		ping_n "$A" "198.18.$i.2" 1 100 || fail "ping over a$i"
	done
	local b=$((4 * (28 + 100)))
	expect_eq "one map set behind all four" "$(counters 198.18.0.0/16)" "$b 4 $b 4"
}

test_private_mount_namespace() {
	lab_pair || return 1
	local cmd
	# `ip netns exec` gives a private mount namespace with its own /sys; the
	# same happens here with unshare and a tmpfs over /sys/fs/bpf.
	for cmd in "load --dev a0" "add --ip-address 198.18.0.1" "show" "purge"; do
		nsenter --net="/run/netns/$A" unshare -m --propagation private sh -c \
			'mount -t tmpfs tmpfs /sys/fs/bpf && exec "$@"' sh \
			"$TM_BIN" --pin-path "$PIN" $cmd >"$WORK/out" 2>"$WORK/err"
		RC=$?
		OUT=$(cat "$WORK/out")
		ERR=$(cat "$WORK/err")
		expect_eq "exit status of '$cmd' in a private mount namespace" "$RC" 1
		expect_eq "stdout" "$OUT" ""
		expect_eq "stderr lines" "$(printf '%s\n' "$ERR" | wc -l)" 1
		expect_contains "'$cmd' in a private mount namespace" "$ERR" "nsenter --net=/run/netns/NAME"
	done
	# The real thing, from a shell inside `ip netns exec` (so the parent
	# shares the private namespace too).
	ip netns exec "$A" sh -c '"$1" --pin-path "$2" load --dev a0; echo "$?" >"$3"' sh \
		"$TM_BIN" "$PIN" "$WORK/rc" >"$WORK/out" 2>"$WORK/err"
	expect_eq "exit status of load under ip netns exec" "$(cat "$WORK/rc")" 1
	expect_contains "load under ip netns exec" "$(cat "$WORK/err")" "nsenter --net=/run/netns/NAME"
	if nsenter --net="/run/netns/$A" tc qdisc show dev a0 | grep -q clsact; then
		fail "refused load attached anyway"
	fi
	[ ! -e "$PIN" ] || fail "refused load left $PIN"
}

test_not_root() {
	lab_pair || return 1
	tm_ok load --dev a0
	local cmd
	for cmd in "load --dev a0" "add --ip-address 198.18.0.1" "show" "status" "unload --dev a0" "purge"; do
		# shellcheck disable=SC2086
		nsenter --net="/run/netns/$A" setpriv --reuid=nobody --regid=nogroup --clear-groups \
			--inh-caps=-all --bounding-set=-all \
			"$TM_BIN" --pin-path "$PIN" $cmd >"$WORK/out" 2>"$WORK/err"
		RC=$?
		OUT=$(cat "$WORK/out")
		ERR=$(cat "$WORK/err")
		expect_eq "exit status of '$cmd' as nobody" "$RC" 1
		expect_eq "stdout of '$cmd' as nobody" "$OUT" ""
		expect_eq "stderr lines" "$(printf '%s\n' "$ERR" | wc -l)" 1
		expect_contains "'$cmd' as nobody" "$ERR" "run as root or grant CAP_BPF and CAP_NET_ADMIN"
	done
	# Bad input is still bad input (exit 2), whoever types it.
	nsenter --net="/run/netns/$A" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$TM_BIN" --pin-path "$PIN" add --ip-address 198.18.0.1/24 >"$WORK/out" 2>"$WORK/err"
	expect_eq "bad address as nobody" "$?" 2
	expect_contains "bad address as nobody" "$(cat "$WORK/err")" "did you mean 198.18.0.0/24?"
	tm_ok status
	expect_contains "still attached" "$OUT" "a0 (ifindex"
}

test_bpffs_missing() {
	lab_pair || return 1
	local dir="$WORK/plain"
	mkdir -p "$dir"
	PIN="$dir"
	PIN_PATHS+=("$PIN")
	expect_error 1 "bpffs is not mounted at $dir" show
	expect_error 1 "bpffs is not mounted at $dir" add --ip-address 198.18.0.1
	# Never over a directory in use.
	touch "$dir/precious"
	expect_error 1 "pin path $dir is not on bpffs and is not empty" load --dev a0
	[ -e "$dir/precious" ] || fail "the file under the pin path is hidden"
	rm "$dir/precious"
	# load mounts bpffs there (SPEC §5) and purge takes it away again.
	MOUNTS+=("$dir")
	tm_ok load --dev a0
	[ "$(stat -f -c %T "$dir")" == "bpf_fs" ] || fail "load did not mount bpffs at $dir"
	[[ "$(stat -c %a "$dir")" == *700 ]] || fail "pin path mode $(stat -c %a "$dir"), expected 700"
	tm_ok add --ip-address 198.18.0.1
	tm_ok purge
	if grep -q " $dir bpf " /proc/mounts; then fail "purge left bpffs mounted at $dir"; fi
}

test_stacked_devices() {
	new_ns A a && new_ns B b || return 1
	veth "$A" p0 198.18.9.1/32 "$B" b0 198.18.0.2/24 || return 1
	local ns="nsenter --net=/run/netns/$A"
	$ns ip link add br0 type bridge || return 1
	$ns ip link set p0 master br0
	$ns ip addr add 198.18.0.1/24 dev br0
	$ns ip link set br0 up
	use "$A"
	tm_ok load --dev br0
	expect_error 1 "p0 is stacked on or under br0, which is attached" load --dev p0
	expect_contains "advice" "$ERR" "--force"
	tm_ok load --dev p0 --force
	tm_ok unload --all
	tm_ok load --dev p0
	expect_error 1 "br0 is stacked on or under p0, which is attached" load --dev br0
	# A VLAN over an attached parent is the same; this machine may lack
	# 802.1Q, so a macvlan (IFLA_LINK like a VLAN) stands in for it. A
	# bridge port cannot carry a macvlan: use a device of its own.
	$ns ip link add q0 type veth peer name q1 || return 1
	$ns ip link set q0 up
	tm_ok load --dev q0
	if $ns ip link add link q0 name q0.10 type vlan id 10 2>/dev/null; then
		expect_error 1 "q0.10 is stacked on or under q0, which is attached" load --dev q0.10
	else
		echo "    note: no 802.1Q support here; VLAN case not run"
	fi
	$ns ip link add link q0 name mv0 type macvlan mode bridge || return 1
	expect_error 1 "mv0 is stacked on or under q0, which is attached" load --dev mv0
	tm_ok unload --dev q0
	tm_ok load --dev mv0
	expect_error 1 "q0 is stacked on or under mv0, which is attached" load --dev q0
	# Two levels: a macvlan on the bridge is stacked on the bridge's port.
	tm_ok unload --all
	$ns ip link add link br0 name brmv type macvlan mode bridge || return 1
	tm_ok load --dev p0
	expect_error 1 "brmv is stacked on or under p0, which is attached" load --dev brmv
	tm_ok unload --dev p0
	tm_ok load --dev brmv
	expect_error 1 "p0 is stacked on or under brmv, which is attached" load --dev p0
	# Siblings are not stacked: two ports of one bridge may both be attached.
	tm_ok unload --all
	$ns ip link add p1 type veth peer name p1peer || return 1
	$ns ip link set p1 master br0
	tm_ok load --dev p0
	tm_ok load --dev p1
}

test_interface_vanished() {
	lab_pair || return 1
	local ns="nsenter --net=/run/netns/$A"
	$ns ip link add t0 type veth peer name t1 || return 1
	$ns ip link set t0 up
	tm_ok load --dev a0
	tm_ok load --dev t0
	tm_ok add --ip-address 198.18.0.1
	$ns ip link del t0
	tm status
	expect_eq "status exit when an interface is gone" "$RC" 1
	expect_contains "status names the gone interface" "$OUT" "(gone)"
	tm status --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d["healthy"] and any("t0" in p and "gone" in p for p in d["problems"]), d' ||
		fail "status --json does not say t0 is gone: $OUT"
	tm unload --dev t0
	expect_eq "unload of a vanished interface: exit" "$RC" 0
	expect_contains "unload of a vanished interface" "$OUT" "t0"
	tm_ok status --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert [i["name"] for i in d["interfaces"]]==["a0"], d["interfaces"]' ||
		fail "vanished interface still recorded: $OUT"
	expect_error 1 "no such interface 'nope0'" unload --dev nope0
	expect_eq "rules kept" "$(rule_list)" "198.18.0.1/32"
}

test_filters_removed_behind_our_back() {
	lab_pair || return 1
	local ns="nsenter --net=/run/netns/$A"
	tm_ok load --dev a0 --attach-mode netlink
	tm_ok add --ip-address 198.18.0.2
	$ns tc qdisc del dev a0 clsact || return 1
	tm status
	expect_eq "status exit with hooks missing" "$RC" 1
	expect_contains "status shows the missing hooks" "$OUT" "ingress NO, egress NO"
	tm_ok load --dev a0
	ping_n "$A" 198.18.0.2 2 64 || fail "ping"
	local b=$((2 * (28 + 64)))
	expect_eq "counting again after re-load" "$(counters 198.18.0.2/32)" "$b 2 $b 2"
	$ns tc qdisc del dev a0 clsact || return 1
	tm_ok unload --dev a0
	tm_ok status
	expect_contains "nothing attached" "$OUT" "interfaces:  none"
}

# The same with TCX: a link of ours detached by someone else.
test_tcx_link_removed_behind_our_back() {
	lab_pair || return 1
	tm_ok load --dev a0 --attach-mode tcx
	tm_ok status --json
	local link
	link=$(bpftool link show -j | python3 -c 'import json,sys; print(next(l["id"] for l in json.load(sys.stdin) if l.get("prog_id") == '"$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["program_id"])')"'))')
	bpftool link detach id "$link" || return 1
	tm status
	expect_eq "status exit with a hook missing" "$RC" 1
	expect_contains "status shows the missing hook" "$OUT" "ingress NO"
	tm_ok load --dev a0
	tm_ok status
	expect_contains "hooks back after re-load" "$OUT" "ingress yes, egress yes"
}

test_ipv6_and_sort() {
	lab_pair || return 1
	ip -n "$A" addr add 2001:db8::1/64 dev a0 nodad
	ip -n "$B" addr add 2001:db8::2/64 dev b0 nodad
	# Static neighbours: no neighbour discovery adds packets the test did
	# not choose.
	ip -n "$A" -6 neigh add 2001:db8::2 lladdr "$(ip -n "$B" -br link show b0 | awk '{print $3}')" dev a0 nud permanent
	ip -n "$B" -6 neigh add 2001:db8::1 lladdr "$(ip -n "$A" -br link show a0 | awk '{print $3}')" \
		dev b0 nud permanent
	tm_ok load --dev a0
	tm_ok add --ip-address 2001:db8::1 --ip-address 198.18.0.1 --ip-address 2001:db8::/64
	ping_n "$A" 2001:db8::2 3 100 || fail "ping -6"
	ping_n "$A" 198.18.0.2 1 1000 || fail "ping"
	local b6=$((3 * (40 + 8 + 100))) b4=$((28 + 1000))
	expect_eq "IPv6 host rule" "$(counters 2001:db8::1/128)" "$b6 3 $b6 3"
	expect_eq "IPv6 prefix rule, counted once per packet" "$(counters 2001:db8::/64)" "$b6 3 $b6 3"
	expect_eq "IPv4 rule" "$(counters 198.18.0.1/32)" "$b4 1 $b4 1"
	tm_ok show
	expect_eq "default order: IPv4 first, then address, then prefix" \
		"$(printf '%s\n' "$OUT" | awk 'NR>1 {print $1}' | tr '\n' ' ')" \
		"198.18.0.1/32 2001:db8::/64 2001:db8::1/128 "
}

# udp_flow PORT DST COUNT SIZE REPLY_SIZE: A sends COUNT datagrams of SIZE
# payload to DST (in B), whose listener answers each with REPLY_SIZE bytes
# (-1: no answer, and no ICMP error either: the port is bound).
udp_flow() {
	local port=$1 dst=$2 count=$3 size=$4 reply=$5 ready="$WORK/sink-$1.ready" pid opts=()
	nsenter --net="/run/netns/$B" python3 "$E2E_DIR/udp_sink.py" --bind "$dst" --port "$port" \
		--count "$count" --reply-size "$reply" --timeout 10 --ready-file "$ready" >/dev/null &
	pid=$!
	for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.05; done
	((reply >= 0)) && opts=(--expect-replies)
	nsenter --net="/run/netns/$A" python3 "$E2E_DIR/udp_send.py" --dst "$dst" --port "$port" \
		--count "$count" --size "$size" --timeout 10 "${opts[@]}" >/dev/null || fail "udp to $dst"
	wait "$pid" || fail "udp sink $dst"
}

# Every --sort key gives its own order, none of them the default one:
# bytes up/down per rule chosen so (IP bytes: 28 + payload).
#   R1 198.18.0.2: up 2 x 250 = 500, down 2 x 50 = 100, total 600
#   R2 198.18.0.3: up 1 x 50 = 50,   down 1 x 900 = 900, total 950
#   R3 198.18.0.4: up 2 x 500 = 1000, down 0,            total 1000
test_sort_orders() {
	lab_pair || return 1
	ip -n "$B" addr add 198.18.0.3/24 dev b0
	ip -n "$B" addr add 198.18.0.4/24 dev b0
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2 --ip-address 198.18.0.3 --ip-address 198.18.0.4
	udp_flow 7001 198.18.0.2 2 222 22
	udp_flow 7002 198.18.0.3 1 22 872
	udp_flow 7003 198.18.0.4 2 472 -1
	expect_eq "R1" "$(counters 198.18.0.2/32)" "500 2 100 2"
	expect_eq "R2" "$(counters 198.18.0.3/32)" "50 1 900 1"
	expect_eq "R3" "$(counters 198.18.0.4/32)" "1000 2 0 0"
	local key want
	for key in "default:198.18.0.2/32 198.18.0.3/32 198.18.0.4/32" \
		"up:198.18.0.4/32 198.18.0.2/32 198.18.0.3/32" \
		"down:198.18.0.3/32 198.18.0.2/32 198.18.0.4/32" \
		"total:198.18.0.4/32 198.18.0.3/32 198.18.0.2/32"; do
		want=${key#*:}
		key=${key%%:*}
		if [[ $key == default ]]; then tm_ok show; else tm_ok show --sort "$key"; fi
		expect_eq "order with --sort $key" "$(printf '%s\n' "$OUT" | awk 'NR>1 {print $1}' | xargs)" "$want"
		[[ $key == default ]] && continue
		tm_ok show --sort "$key" --json
		expect_eq "order with --sort $key --json" \
			"$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(" ".join(r["rule"] for r in json.load(sys.stdin)["rules"]))')" "$want"
	done
}

test_status_text() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok status
	if printf '%s\n' "$OUT" | grep -q ' $'; then fail "status has trailing spaces: $(printf '%s\n' "$OUT" | grep -n ' $')"; fi
	expect_contains "status" "$OUT" "a0 (ifindex"
	expect_contains "status" "$OUT" "pin path:    $PIN"
	tm_ok unload --dev a0
	tm_ok status
	expect_contains "status without interfaces" "$OUT" "interfaces:  none"
	if printf '%s\n' "$OUT" | grep -q ' $'; then fail "status has trailing spaces"; fi
}

# lo: what leaves it comes straight back in, so only its ingress is hooked
# and local traffic counts once.
test_loopback_counts_once() {
	new_ns A a || return 1
	use "$A"
	tm_ok load --dev lo
	expect_contains "load on lo" "$OUT" "(ingress, link layer loopback,"
	tm_ok add --ip-address 127.0.0.2
	nsenter --net="/run/netns/$A" ping -q -n -c 4 -s 100 -i 0.01 -W 2 -w 10 -I 127.0.0.1 127.0.0.2 >/dev/null ||
		fail "ping over lo"
	expect_eq "127.0.0.2 counters" "$(counters 127.0.0.2/32)" "$((4 * 128)) 4 $((4 * 128)) 4"
}

# ------------------------------------------------------- least privilege

# as_caps CAPS ARGS...: traffic_meter in $NS with $PIN, as root's uid with
# only CAPS (e.g. "+bpf,+net_admin"); sets RC, OUT, ERR.
as_caps() {
	local caps=$1
	shift
	nsenter --net="/run/netns/$NS" setpriv --inh-caps="-all,$caps" --ambient-caps="-all,$caps" \
		--bounding-set="-all,$caps" "$TM_BIN" --pin-path "$PIN" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

# SPEC §5: every command with CAP_BPF and CAP_NET_ADMIN alone (the systemd
# unit's bounding set: apply, restore and serve included); the readers with
# CAP_BPF alone; a missing capability named.
test_least_privilege() {
	lab_pair || return 1
	# A bpffs of its own: without CAP_SYS_ADMIN `load` cannot mount one, and
	# a fresh machine may have none at /sys/fs/bpf.
	local root="$WORK/lp-bpffs"
	mkdir -p "$root" && mount -t bpf bpf "$root" || return 1
	MOUNTS+=("$root")
	PIN=$root/tm
	PIN_PATHS+=("$PIN")
	echo '["198.18.0.0/24", "2001:db8::/64"]' >"$WORK/rules.json"
	echo '{"interfaces": ["a0"], "rules": ["198.18.0.2", "2001:db8::/64"]}' >"$WORK/lp-config.json"
	local cmd
	for cmd in "load --dev a0" "add --ip-address 198.18.0.2" "import --file $WORK/rules.json" \
		"show" "list" "export" "status" "reset" "del --ip-address 198.18.0.0/24" \
		"load --dev a0" "unload --dev a0" "load --dev a0" "apply --config $WORK/lp-config.json" \
		"save --file $WORK/lp-state.json" "restore --file $WORK/lp-state.json"; do
		# shellcheck disable=SC2086
		as_caps +bpf,+net_admin $cmd
		expect_eq "'$cmd' with CAP_BPF and CAP_NET_ADMIN: exit ($ERR)" "$RC" 0
	done
	ping_n "$A" 198.18.0.2 3 100 || fail "ping"
	for cmd in show list export status "show --json" "watch --count 1 --json --interval 0.2"; do
		# shellcheck disable=SC2086
		as_caps +bpf $cmd
		expect_eq "'$cmd' with CAP_BPF alone: exit ($ERR)" "$RC" 0
	done
	expect_contains "watch under least privilege" "$OUT" '"198.18.0.2/32"'
	expect_eq "counted under least privilege" "$(counters 198.18.0.2/32)" "384 3 384 3"
	# The exporter as the unit runs it.
	nsenter --net="/run/netns/$NS" setpriv --inh-caps=-all,+bpf,+net_admin --ambient-caps=-all,+bpf,+net_admin \
		--bounding-set=-all,+bpf,+net_admin "$TM_BIN" --pin-path "$PIN" serve --listen 127.0.0.1:19470 \
		--state-file "$WORK/lp-serve.json" >"$WORK/serve.out" 2>"$WORK/serve.err" &
	SERVE_PID=$!
	wait_until 5 scrape 19470 /healthz >/dev/null || fail "serve under least privilege: $(cat "$WORK/serve.err")"
	expect_contains "a scrape under least privilege" "$(scrape 19470 /metrics)" \
		'traffic_meter_bytes_total{rule="198.18.0.2/32",family="ipv4",direction="up"} 384'
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	expect_eq "serve under least privilege exits 0 ($(cat "$WORK/serve.err"))" "$?" 0
	[ -s "$WORK/lp-serve.json" ] || fail "no checkpoint under least privilege"
	as_caps +bpf load --dev a0
	expect_eq "load without CAP_NET_ADMIN" "$RC" 1
	expect_contains "load without CAP_NET_ADMIN names it" "$ERR" "missing CAP_NET_ADMIN"
	as_caps +net_admin show
	expect_eq "show without CAP_BPF" "$RC" 1
	expect_contains "show without CAP_BPF names it" "$ERR" "missing CAP_BPF"
	as_caps +bpf,+net_admin purge
	expect_eq "purge with CAP_BPF and CAP_NET_ADMIN ($ERR)" "$RC" 0
	[ ! -e "$PIN" ] || fail "purge left $PIN"
}

# A service user that owns its pin path needs nothing but the two
# capabilities; file permissions still apply to other users.
test_service_user() {
	lab_pair || return 1
	local root="/tmp/tm-svc-$RUN_ID"
	mkdir -p "$root" && chmod 755 "$root" || return 1
	mount -t bpf bpf "$root" || return 1
	MOUNTS+=("$root")
	mkdir "$root/tm" && chown nobody:nogroup "$root/tm" && chmod 700 "$root/tm" || return 1
	PIN=$root/tm
	PIN_PATHS+=("$PIN")
	svc() {
		nsenter --net="/run/netns/$A" setpriv --reuid=nobody --regid=nogroup --clear-groups \
			--inh-caps=-all,+bpf,+net_admin --ambient-caps=-all,+bpf,+net_admin \
			--bounding-set=-all,+bpf,+net_admin "$TM_BIN" --pin-path "$PIN" "$@" >"$WORK/out" 2>"$WORK/err"
		RC=$?
		ERR=$(cat "$WORK/err")
	}
	local cmd
	for cmd in "load --dev a0" "add --ip-address 198.18.0.2" "show" "status" "unload --dev a0" "purge"; do
		# shellcheck disable=SC2086
		svc $cmd
		expect_eq "'$cmd' as the service user: exit ($ERR)" "$RC" 0
	done
	[ -d "$PIN" ] || fail "purge removed a directory load did not make"
	# Root's state is not the service user's to read, whatever its capabilities.
	tm_ok load --dev a0
	chown root:root "$PIN" && chmod 700 "$PIN"
	svc show
	expect_eq "another user's state: exit" "$RC" 1
	expect_contains "another user's state" "$ERR" "permission denied on $PIN"
	expect_contains "another user's state: says why" "$ERR" "file permissions"
	tm_ok purge
}

# ------------------------------------------------------ ownership (SPEC §5)

# purge removes only this instance's pins, unmounts only a bpffs that load
# mounted, and changes nothing where there is no state.
test_purge_only_ours() {
	lab_pair || return 1
	local root="$WORK/bpfroot"
	mkdir -p "$root" && mount -t bpf bpf "$root" || return 1
	MOUNTS+=("$root")
	bpftool map create "$root/foreign" type array key 4 value 4 entries 1 name foreign || return 1
	PIN=$root
	PIN_PATHS+=("$PIN")
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2
	tm_ok purge
	grep -q " $root bpf " /proc/mounts || fail "purge unmounted a bpffs it did not mount"
	[ -e "$root/foreign" ] || fail "purge removed another tool's pin"
	[ ! -e "$root/tm_config" ] || fail "purge left our tm_config"
	[ -z "$(ls "$root" | grep -v -e foreign -e '\.debug$')" ] || fail "purge left pins: $(ls "$root")"
	tm_ok purge
	expect_contains "purge without state" "$OUT" "nothing to purge"
	grep -q " $root bpf " /proc/mounts || fail "a purge without state unmounted"
	[ -e "$root/foreign" ] || fail "a purge without state removed a pin"
	# A bpffs mount root of ours alone but not mounted by us: it stays.
	rm -f "$root/foreign"
	tm_ok load --dev a0
	tm_ok purge
	grep -q " $root bpf " /proc/mounts || fail "purge unmounted a bpffs it did not mount (empty)"
	# A directory that holds something else is not removed.
	PIN="/sys/fs/bpf/$RUN_ID-$CURRENT-2"
	PIN_PATHS+=("$PIN")
	tm_ok load --dev a0
	bpftool map create "$PIN/other" type array key 4 value 4 entries 1 name other || return 1
	tm_ok purge
	[ -e "$PIN/other" ] || fail "purge removed another tool's pin in the pin path"
	rm -f "$PIN/other"
}

# Two instances on one device: both count, each sees its own program, and
# neither's unload or purge touches the other's hook.
test_second_instance() {
	lab_pair || return 1
	local pin_a="/sys/fs/bpf/$RUN_ID-$CURRENT-a" pin_b="/sys/fs/bpf/$RUN_ID-$CURRENT-b"
	PIN_PATHS+=("$pin_a" "$pin_b")
	PIN=$pin_a
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2
	PIN=$pin_b
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2
	ping_n "$A" 198.18.0.2 2 100 || fail "ping"
	local ids=""
	for PIN in "$pin_a" "$pin_b"; do
		expect_eq "both instances count ($PIN)" "$(counters 198.18.0.2/32)" "256 2 256 2"
		tm_ok status --json
		ids+="$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["program_id"])') "
	done
	read -r id_a id_b <<<"$ids"
	[ "$id_a" != "$id_b" ] || fail "both instances show program $id_a"
	PIN=$pin_a
	tm_ok purge
	PIN=$pin_b
	tm_ok status
	expect_contains "B still hooked after A's purge" "$OUT" "ingress yes, egress yes"
	ping_n "$A" 198.18.0.2 1 100 || fail "ping"
	expect_eq "B still counts after A's purge" "$(counters 198.18.0.2/32)" "384 3 384 3"
	tm_ok unload --dev a0
	tm_ok purge
}

# ------------------------------------------------ atomicity (SPEC §5)

# rules_file NAME FIRST COUNT: {"rules": [...]}: COUNT /32s from 10.FIRST.x.y.
rules_file() {
	python3 -c 'import json,sys; f,n=int(sys.argv[2]),int(sys.argv[3]); json.dump({"rules":["10.%d.%d.%d/32"%(f+i//65536,i//256%256,i%256) for i in range(n)]}, open(sys.argv[1],"w"))' "$1" "$2" "$3"
}

# same_set FILE_A FILE_B FILE_C: FILE_C's rule set is FILE_A's or FILE_B's.
same_set() {
	python3 - "$@" <<'PY'
import ipaddress, json, sys
def rules(p):
    d = json.load(open(p))
    rows = d["rules"] if isinstance(d, dict) else d
    return {str(ipaddress.ip_network(r["rule"] if isinstance(r, dict) else r)) for r in rows}
a, b, c = (rules(p) for p in sys.argv[1:4])
sys.exit(0 if c in (a, b) else f"a set of {len(c)} rules: {len(c & a)} of the first ({len(a)}), {len(c & b)} of the second ({len(b)})")
PY
}

# Readers running beside import --replace (export, show --json and a
# Prometheus scrape) see the old set or the new one, never a mix.
test_readers_see_whole_sets() {
	lab_pair || return 1
	tm_ok load --dev a0
	rules_file "$WORK/s1.json" 0 25000
	rules_file "$WORK/s2.json" 3 25000
	tm_ok import --file "$WORK/s1.json"
	# The exporter reads as `export` and `show` do: a scrape sees a whole set too.
	serve_start 19469 --max-series 100000 || return 1
	(
		for i in $(seq 16); do
			f=$WORK/s1.json
			((i % 2)) && f=$WORK/s2.json
			nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" import --replace --file "$f" >/dev/null || exit 1
		done
	) &
	local writer=$!
	# One reader process: as many reads as possible while the writer runs.
	SCRAPE="nsenter --net=/run/netns/$NS curl -sf --max-time 20 http://127.0.0.1:19469/metrics" \
		python3 - "$writer" "$WORK/s1.json" "$WORK/s2.json" nsenter --net="/run/netns/$NS" "$TM_BIN" \
		--pin-path "$PIN" >"$WORK/reads" <<'PY'
import ipaddress, json, os, re, subprocess, sys
writer, f1, f2, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
scrape = os.environ["SCRAPE"].split()
def scraped_rules():
    text = subprocess.run(scrape, check=True, capture_output=True, text=True).stdout
    return re.findall(r'^traffic_meter_bytes_total\{rule="([^"]+)",[^}]*direction="up"\}', text, re.M)
def norm(rows):
    return frozenset(str(ipaddress.ip_network(r["rule"] if isinstance(r, dict) else r)) for r in rows)
sets = [norm(json.load(open(f))["rules"]) for f in (f1, f2)]
good = 0
def alive():
    try:
        os.kill(writer, 0)
        return True
    except OSError:
        return False
while alive():
    for sub in (["export"], ["show", "--json"], None):
        if sub is None:
            seen = norm(scraped_rules())
        else:
            seen = norm(json.loads(subprocess.run(cmd + sub, check=True, capture_output=True).stdout)["rules"])
        if seen not in sets:
            what = "a scrape" if sub is None else " ".join(sub)
            print(f"{what} mixed after {good} good reads: {len(seen & sets[0])} + {len(seen & sets[1])} of {len(sets[0])}")
            sys.exit(1)
        good += 1
print(good)
PY
	local rc=$? n
	n=$(tail -1 "$WORK/reads")
	wait "$writer" || fail "the writer failed"
	((rc == 0)) || fail "a reader saw a mixed rule set: $n"
	((rc != 0)) && n=0
	((n >= 3)) || fail "only $n reads overlapped the writer"
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
}

# kill_at MS ARGS...: starts traffic_meter ARGS and SIGKILLs it after MS ms
# (if it is still running).
kill_at() {
	local ms=$1
	shift
	nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" "$@" >/dev/null 2>&1 &
	local pid=$!
	sleep "$(printf '0.%03d' "$ms")"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# SIGKILL at many points of import --replace and of a resize: the state is
# the old one or the new one, the next command works on it, counting goes on.
test_sigkill_changes() {
	lab_pair || return 1
	tm_ok load --dev a0 --max-rules 40000
	rules_file "$WORK/s1.json" 0 15000
	rules_file "$WORK/s2.json" 1 15000
	python3 -c 'import json; a=json.load(open("'"$WORK/s1.json"'")); a["rules"].append("198.18.0.2/32"); json.dump(a, open("'"$WORK/s1.json"'","w"))'
	python3 -c 'import json; a=json.load(open("'"$WORK/s2.json"'")); a["rules"].append("198.18.0.2/32"); json.dump(a, open("'"$WORK/s2.json"'","w"))'
	tm_ok import --file "$WORK/s1.json"
	ping_n "$A" 198.18.0.2 2 100 || fail "ping"
	local ms f kills=0 pkts=2
	for ms in 0 5 10 20 30 45 60 80 100 130 160 200 250 300 400; do
		f=$WORK/s2.json
		((kills % 2)) && f=$WORK/s1.json
		kill_at "$ms" import --replace --file "$f"
		kills=$((kills + 1))
		tm_ok export
		printf '%s\n' "$OUT" >"$WORK/seen.json"
		same_set "$WORK/s1.json" "$WORK/s2.json" "$WORK/seen.json" ||
			fail "after SIGKILL at $ms ms of import --replace"
		tm_ok add --ip-address 198.18.9.9
		tm_ok del --ip-address 198.18.9.9
		ping_n "$A" 198.18.0.2 1 100 || fail "ping"
		pkts=$((pkts + 1))
		expect_eq "counting after SIGKILL at $ms ms" "$(counters 198.18.0.2/32)" "$((pkts * 128)) $pkts $((pkts * 128)) $pkts"
	done
	tm_ok import --replace --file "$WORK/s1.json"
	local caps=(50000 60000) want
	for ms in 0 10 25 50 100 150 200 300 450 600; do
		kill_at "$ms" load --dev a0 --max-rules "${caps[kills % 2]}"
		kills=$((kills + 1))
		tm status --json
		printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); c=d["rules"]["capacity"]; sys.exit(0 if c in (40000, 50000, 60000) and d["rules"]["count"] == 15001 else d["rules"])' ||
			fail "after SIGKILL at $ms ms of a resize: $OUT"
		tm_ok export
		printf '%s\n' "$OUT" >"$WORK/seen.json"
		same_set "$WORK/s1.json" "$WORK/s1.json" "$WORK/seen.json" || fail "rules after SIGKILL at $ms ms of a resize"
		tm_ok load --dev a0 # finishes or undoes an interrupted resize
		tm_ok add --ip-address 198.18.9.9
		tm_ok del --ip-address 198.18.9.9
		ping_n "$A" 198.18.0.2 1 100 || fail "ping"
		pkts=$((pkts + 1))
		want="$((pkts * 128)) $pkts $((pkts * 128)) $pkts"
		expect_eq "counting after SIGKILL at $ms ms of a resize" "$(counters 198.18.0.2/32)" "$want"
	done
	local left
	left=$(find "$PIN" -maxdepth 1 -name 'maps*' | wc -l)
	expect_eq "one maps directory left" "$left" 1
}

# A purge and a load racing on one pin path: the lock spans each whole, so
# the state is whole afterwards (gone, or loaded and counting).
test_purge_races_load() {
	lab_pair || return 1
	local i
	for i in 1 2 3 4 5 6; do
		nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" load --dev a0 >/dev/null 2>&1 &
		local l=$!
		nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" purge >/dev/null 2>&1 &
		local p=$!
		wait "$l"
		wait "$p" || fail "purge failed"
		if [ -e "$PIN/tm_config" ]; then
			tm_ok status
			tm_ok purge
		fi
		[ ! -e "$PIN" ] || [ -z "$(ls "$PIN")" ] || fail "leftovers after round $i: $(ls -R "$PIN")"
	done
	# Two first loads where bpffs is not mounted yet mount it once.
	local dir="$WORK/plain" n
	mkdir -p "$dir"
	PIN=$dir
	PIN_PATHS+=("$PIN")
	MOUNTS+=("$dir")
	veth "$A" a1 198.18.1.1/24 "$B" b1 198.18.1.2/24 || return 1
	nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" load --dev a0 >/dev/null 2>&1 &
	l=$!
	nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" load --dev a1 >/dev/null 2>&1 &
	wait "$l" || fail "first load of a0"
	wait $! || fail "first load of a1"
	n=$(grep -c " $dir bpf " /proc/mounts)
	expect_eq "bpffs mounts at $dir" "$n" 1
	tm_ok purge
}

# State of one network namespace is refused from another.
test_other_netns() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2
	local saved=$NS cmd
	NS=$B
	for cmd in show status "unload --all" purge "add --ip-address 198.18.0.9"; do
		# shellcheck disable=SC2086
		expect_error 1 "belongs to network namespace $A" $cmd
	done
	NS=$saved
	tm_ok status
	expect_contains "still attached in its namespace" "$OUT" "ingress yes, egress yes"
	expect_eq "rules untouched" "$(rule_list)" "198.18.0.2/32"
	NS=$B
	tm_ok purge --force
	NS=$saved
	[ ! -e "$PIN/tm_config" ] || fail "purge --force left the state"
}

# ------------------------------------------------------- bounded input

test_unbounded_input() {
	lab_pair || return 1
	tm_ok load --dev a0 --max-rules 64
	expect_error 2 "larger than 64 MiB" import --file /dev/zero
	expect_error 1 "would need about" load --dev a0 --max-flows 4000000000
	expect_contains "says what is available" "$ERR" "MiB is available"
	python3 -c 'import json; json.dump({"rules": ["bad%d" % i for i in range(100)]}, open("'"$WORK/bad.json"'", "w"))'
	expect_error 2 "100 invalid entries, nothing imported" import --file "$WORK/bad.json"
	expect_contains "names the first" "$ERR" "entry 1: invalid IP address 'bad0'"
	expect_contains "and says how many more" "$ERR" "and 95 more"
	[ "${#ERR}" -lt 600 ] || fail "error line of ${#ERR} characters"
	tm_ok status
	expect_contains "capacities unchanged" "$OUT" "rules:       0 of 64"
}

# ------------------------------------------------------- upgrades

# The previous release's state (ABI 1: rules, counters, its filter on a0)
# is carried over by the first load of this one.
test_migrate_from_previous_abi() {
	lab_pair || return 1
	[ -n "${TM_PREVIOUS_BIN:-}" ] && [ -x "$TM_PREVIOUS_BIN" ] ||
		{ fail "TM_PREVIOUS_BIN is not set (scripts/build_previous.sh builds it)"; return 1; }
	old_release "$TM_PREVIOUS_BIN" 1 load --dev a0
	old_release "$TM_PREVIOUS_BIN" 1 add --ip-address 198.18.0.2 --ip-address 198.18.0.0/24 --ip-address 2001:db8::/64
	ping_n "$A" 198.18.0.2 4 100 || fail "ping"
	tm show
	expect_contains "this release on ABI 1 state says to load" "$ERR" "run \`traffic_meter load --dev IF\` once"
	tm_ok load --dev a0
	expect_contains "load says it migrated" "$OUT" "migrated the state"
	expect_eq "rules carried over" "$(rule_list)" $'198.18.0.0/24\n198.18.0.2/32\n2001:db8::/64'
	expect_eq "counters carried over" "$(counters 198.18.0.2/32)" "512 4 512 4"
	ping_n "$A" 198.18.0.2 1 100 || fail "ping"
	expect_eq "counting on after the upgrade, once" "$(counters 198.18.0.2/32)" "640 5 640 5"
	local n
	n=$(nsenter --net="/run/netns/$A" tc filter show dev a0 ingress | grep -c "bpf.*handle")
	expect_eq "one filter on a0 ingress (the old one replaced)" "$n" 1
	tm_ok status
	expect_contains "status after the upgrade" "$OUT" "(ABI 6)"
	tm_ok purge
}

# A UDP flow A:40000 -> B:5000 (100 and 200 IP bytes), answered once by
# answered_flow_start, once more by answered_flow_finish, which waits until A
# got that second answer.
answered_flow_start() {
	rm -f "$WORK/b.ready" "$WORK/a.answered" "$WORK/go" # $WORK outlives a test
	# B answers each packet it gets, and once more when $WORK/go appears.
	nsenter --net="/run/netns/$B" python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.0.2", 5000)); s.settimeout(20)
open(sys.argv[1], "w").close()
_, peer = s.recvfrom(2048); s.sendto(b"r" * 172, peer)
deadline = time.time() + 20
while not os.path.exists(sys.argv[2]) and time.time() < deadline: time.sleep(0.05)
s.sendto(b"r" * 172, peer)' "$WORK/b.ready" "$WORK/go" &
	ANSWERED_FLOW_B=$!
	wait_until 5 test -e "$WORK/b.ready" || { fail "udp peer not ready"; return 1; }
	nsenter --net="/run/netns/$A" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.0.1", 40000)); s.settimeout(20)
s.sendto(b"q" * 72, ("198.18.0.2", 5000)); s.recvfrom(2048)
open(sys.argv[1], "w").close()
s.recvfrom(2048)' "$WORK/a.answered" &
	ANSWERED_FLOW_A=$!
	wait_until 5 test -e "$WORK/a.answered" || { fail "no first answer"; return 1; }
}

answered_flow_finish() {
	touch "$WORK/go"
	wait "$ANSWERED_FLOW_A" || fail "A did not get the second answer"
	wait "$ANSWERED_FLOW_B" || fail "udp peer"
}

# need_release BIN ABI: the earlier release's binary that scripts/test.sh built.
need_release() {
	[ -n "$1" ] && [ -x "$1" ] && return 0
	fail "TM_ABI${2}_BIN is not set (scripts/build_previous.sh DIR previous_release_abi$2 builds it)"
	return 1
}

# old_release BIN ABI ARGS...: that release's traffic_meter in $NS with $PIN.
old_release() {
	local bin=$1 abi=$2
	shift 2
	nsenter --net="/run/netns/$NS" "$bin" --pin-path "$PIN" "$@" >/dev/null || fail "ABI $abi release: $*"
}

# old_counters BIN RULE: counters RULE, read by that release.
old_counters() {
	nsenter --net="/run/netns/$NS" "$1" --pin-path "$PIN" show --ip-address "$2" --csv |
		awk -F, 'NR==2 {print $3, $4, $5, $6}'
}

# The state of the ABI 2 release (flows in LRU hashes) and of the ABI 3
# release (flow entries inside the buckets) is upgraded by the first load
# of this one: rules and counters kept, and a flow's direction too. A UDP
# flow A:40000 -> B:5000 answered once before the upgrade; B's packet after
# it is still downstream (had the flow been lost, B would be its originator
# and the packet upstream).
upgrade_keeps_flow() {
	local old_bin=$1 abi=$2
	lab_pair || return 1
	need_release "$old_bin" "$abi" || return 1
	old_release "$old_bin" "$abi" load --dev a0
	old_release "$old_bin" "$abi" add --ip-address 198.18.0.2 --ip-address 2001:db8::/64
	ping_n "$A" 198.18.0.2 4 100 || fail "ping"
	answered_flow_start || return 1
	expect_eq "counters before the upgrade" "$(old_counters "$old_bin" 198.18.0.2/32)" "612 5 712 5"
	tm show
	expect_contains "this release on ABI $abi state says to load" "$ERR" "(ABI $abi); run \`traffic_meter load --dev IF\` once"
	tm_ok load --dev a0
	expect_contains "load says it migrated" "$OUT" "migrated the state at $PIN from ABI $abi"
	answered_flow_finish
	expect_eq "rules carried over" "$(rule_list)" $'198.18.0.2/32\n2001:db8::/64'
	expect_eq "counters carried over, the answer downstream" "$(counters 198.18.0.2/32)" "612 5 912 6"
	ping_n "$A" 198.18.0.2 1 100 || fail "ping"
	expect_eq "counting on after the upgrade, once" "$(counters 198.18.0.2/32)" "740 6 1040 7"
	tm_ok status --json
	local got
	got=$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["abi_version"], d["flows"]["capacity"], len(d["interfaces"]))')
	expect_eq "ABI 6, the flow capacity kept, a0 attached" "$got" "6 262144 1"
	[ -z "$(find "$PIN" -name 'tm_flows*')" ] || fail "ABI 2's flow tables left: $(find "$PIN" -name 'tm_flows*')"
	expect_eq "one set of sized maps left, with the pool" "$(find "$PIN" -name 'tm_flow_pool' | wc -l) $(find "$PIN" -maxdepth 1 -name 'maps*' | wc -l)" "1 1"
	local n
	n=$(nsenter --net="/run/netns/$A" tc filter show dev a0 ingress | grep -c "bpf.*handle")
	[ "$n" -le 1 ] || fail "$n filters on a0 ingress"
	tm_ok purge
	[ ! -e "$PIN" ] || fail "purge left $PIN"
}

test_upgrade_from_abi2() { upgrade_keeps_flow "${TM_ABI2_BIN:-}" 2; }

test_upgrade_from_abi3() { upgrade_keeps_flow "${TM_ABI3_BIN:-}" 3; }

test_upgrade_from_abi4() { upgrade_keeps_flow "${TM_ABI4_BIN:-}" 4; }

# ABI 5's tm_counters is a per-CPU array; ABI 6's is CPU-major: the upgrade
# builds new rule maps and carries each rule's counts, read from the old one.
test_upgrade_from_abi5() { upgrade_keeps_flow "${TM_ABI5_BIN:-}" 5; }

# ABI 5's egress hook reads an interface's role from tm_roles, which the
# upgrade from ABI 4 builds from tm_ifaces: a packet A routes from C (a1,
# attached by the ABI 4 release) to B (out through a0, attached too) counts
# once, at a1's ingress, after the upgrade as before it. Without the roles,
# a0's egress would count each request a second time.
test_upgrade_from_abi4_keeps_roles() {
	local old_bin=${TM_ABI4_BIN:-}
	lab_pair || return 1
	need_release "$old_bin" 4 || return 1
	new_ns C c || return 1
	veth "$A" a1 198.18.1.1/24 "$C" c1 198.18.1.2/24 || return 1
	nsenter --net="/run/netns/$A" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$B" route add 198.18.1.0/24 via 198.18.0.1
	ip -n "$C" route add 198.18.0.0/24 via 198.18.1.1
	old_release "$old_bin" 4 load --dev a0
	old_release "$old_bin" 4 load --dev a1
	old_release "$old_bin" 4 add --ip-address 198.18.1.2
	ping_n "$C" 198.18.0.2 2 100 || fail "ping through A"
	expect_eq "ABI 4: each forwarded packet once" "$(old_counters "$old_bin" 198.18.1.2/32)" "256 2 256 2"
	tm_ok load --dev a0
	expect_contains "load says it migrated" "$OUT" "migrated the state at $PIN from ABI 4"
	ping_n "$C" 198.18.0.2 3 100 || fail "ping through A"
	expect_eq "ABI 6: each forwarded packet once" "$(counters 198.18.1.2/32)" "640 5 640 5"
	tm_ok status --json
	expect_eq "ABI 6" "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["abi_version"])')" 6
	tm_ok purge
	[ ! -e "$PIN" ] || fail "purge left $PIN"
}

# ------------------------------------------------------- operations

# save, then restore into a fresh state (a reboot loses bpffs): the saved
# figures come back exactly, once; corrupt, truncated and future files are
# refused and change nothing.
test_save_restore() {
	lab_pair || return 1
	echo boot-a >"$WORK/boot"
	export TRAFFIC_METER_BOOT_ID_FILE=$WORK/boot
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2 --ip-address 2001:db8::/64
	ping_n "$A" 198.18.0.2 3 100 || fail "ping"
	tm_ok save --file "$WORK/state.json"
	expect_contains "save" "$OUT" "saved 2 rules"
	[ "$(stat -c %a "$WORK/state.json")" = 600 ] || fail "state file mode $(stat -c %a "$WORK/state.json")"
	[ -z "$(find "$WORK" -name '.state.json.tmp-*')" ] || fail "save left a temporary file"
	python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["format"]=="traffic_meter-state" and d["version"]==1 and d["boot_id"]=="boot-a" and d["saved_at"].endswith("Z"), d' "$WORK/state.json" ||
		fail "state file fields"
	tm_ok restore --file "$WORK/state.json"
	expect_contains "restore into the state it came from" "$OUT" "nothing to restore"
	expect_eq "counters after a no-op restore" "$(counters 198.18.0.2/32)" "384 3 384 3"
	# A reboot: the pinned state is gone, the boot id is new.
	tm_ok purge
	echo boot-b >"$WORK/boot"
	tm_ok load --dev a0
	tm_ok restore --file "$WORK/state.json"
	expect_contains "restore" "$OUT" "restored 2 rules"
	expect_eq "restored counters" "$(counters 198.18.0.2/32)" "384 3 384 3"
	expect_eq "restored rules" "$(rule_list)" $'198.18.0.2/32\n2001:db8::/64'
	tm_ok restore --file "$WORK/state.json"
	expect_contains "restore twice" "$OUT" "restored already"
	expect_eq "counters after restoring twice" "$(counters 198.18.0.2/32)" "384 3 384 3"
	ping_n "$A" 198.18.0.2 1 100 || fail "ping"
	expect_eq "counting on top of restored figures" "$(counters 198.18.0.2/32)" "512 4 512 4"
	# Broken files: refused, nothing changed.
	head -c 200 "$WORK/state.json" >"$WORK/truncated.json"
	expect_error 2 "truncated" restore --file "$WORK/truncated.json"
	sed 's/"up_bytes": 384/"up_bytes": 385/' "$WORK/state.json" >"$WORK/flipped.json"
	expect_error 2 "checksum mismatch" restore --file "$WORK/flipped.json"
	python3 - "$WORK/state.json" "$WORK/future.json" <<'PY'
import sys, zlib
text = open(sys.argv[1]).read().replace('"version": 1', '"version": 2')
body = text[:text.rindex('"checksum": "crc32:')]
open(sys.argv[2], "w").write(body + '"checksum": "crc32:%08x"}\n' % zlib.crc32(body.encode()))
PY
	expect_error 2 "state file version 2" restore --file "$WORK/future.json"
	expect_eq "counters after refused restores" "$(counters 198.18.0.2/32)" "512 4 512 4"
	tm_ok restore --file "$WORK/none.json" --if-exists
	expect_contains "--if-exists" "$OUT" "nothing to restore"
	expect_error 2 "cannot read" restore --file "$WORK/none.json"
	unset TRAFFIC_METER_BOOT_ID_FILE
}

# serve_start PORT [ARGS...]: the exporter in $NS on 127.0.0.1:PORT,
# waited for; SERVE_PID.
serve_start() {
	local port=$1
	shift
	nsenter --net="/run/netns/$NS" "$TM_BIN" --pin-path "$PIN" serve --listen "127.0.0.1:$port" "$@" \
		>"$WORK/serve.out" 2>"$WORK/serve.err" &
	SERVE_PID=$!
	local i
	for i in $(seq 100); do
		scrape "$port" /healthz >/dev/null 2>&1 && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "serve did not start: $(cat "$WORK/serve.err")"
	return 1
}

# scrape PORT PATH [CURL ARGS...]
scrape() {
	local port=$1 path=$2
	shift 2
	nsenter --net="/run/netns/$NS" curl -sf --max-time 10 "$@" "http://127.0.0.1:$port$path"
}

# metric TEXT NAME LABELS: the value of one sample.
metric() {
	printf '%s\n' "$1" | awk -v k="$2{$3}" '$1 == k {print $2}'
}

test_serve_exporter() {
	lab_pair || return 1
	ip -n "$A" link set lo up
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2 --ip-address 198.18.0.0/24
	ping_n "$A" 198.18.0.2 3 100 || fail "ping"
	serve_start 19464 --listen "[::1]:19465" --state-file "$WORK/serve-state.json" || return 1
	local m
	m=$(scrape 19464 /metrics) || fail "scrape"
	printf '%s\n' "$m" | promtool check metrics || fail "promtool check metrics: $(printf '%s\n' "$m" | promtool check metrics 2>&1)"
	expect_eq "bytes up" "$(metric "$m" traffic_meter_bytes_total 'rule="198.18.0.2/32",family="ipv4",direction="up"')" 384
	expect_eq "packets down" "$(metric "$m" traffic_meter_packets_total 'rule="198.18.0.2/32",family="ipv4",direction="down"')" 3
	expect_eq "rules gauge" "$(printf '%s\n' "$m" | awk '$1 == "traffic_meter_rules" {print $2}')" 2
	expect_eq "interface gauge" "$(metric "$m" traffic_meter_interface_attached 'interface="a0"')" 1
	expect_contains "build info" "$m" 'traffic_meter_build_info{version="'
	expect_contains "self-accounting" "$m" 'traffic_meter_dataplane_packets_total{result="counted"}'
	local headers
	headers=$(nsenter --net="/run/netns/$NS" curl -sf -D - -o "$WORK/om.txt" \
		-H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5' http://[::1]:19465/metrics)
	expect_contains "OpenMetrics content type" "$headers" "application/openmetrics-text; version=1.0.0"
	expect_eq "OpenMetrics ends with # EOF" "$(tail -1 "$WORK/om.txt")" "# EOF"
	expect_contains "OpenMetrics counter family" "$(cat "$WORK/om.txt")" "# TYPE traffic_meter_bytes counter"
	expect_contains "index page" "$(scrape 19464 /)" 'href="/metrics"'
	# A new rule appears at 0 at once; reset and restore do not move the
	# exporter's counters (they only go up while a rule lives).
	tm_ok add --ip-address 198.18.0.1
	m=$(scrape 19464 /metrics)
	expect_eq "a new rule at 0" "$(metric "$m" traffic_meter_bytes_total 'rule="198.18.0.1/32",family="ipv4",direction="up"')" 0
	tm_ok reset
	m=$(scrape 19464 /metrics)
	expect_eq "reset does not move the exporter" "$(metric "$m" traffic_meter_bytes_total 'rule="198.18.0.2/32",family="ipv4",direction="up"')" 384
	expect_eq "reset moves show" "$(counters 198.18.0.2/32)" "0 0 0 0"
	# A second exporter on the same port: one line, exit 1.
	expect_error 1 "cannot listen on 127.0.0.1:19464" serve --listen 127.0.0.1:19464
	expect_error 2 "invalid --listen '1.2.3.4'" serve --listen 1.2.3.4
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	expect_eq "serve exits 0 on SIGTERM" "$?" 0
	[ -s "$WORK/serve-state.json" ] || fail "no checkpoint at SIGTERM"
	expect_contains "serve's last words" "$(cat "$WORK/serve.out")" "stopped"
	# /healthz: 503 once the state is gone.
	serve_start 19466 || return 1
	tm_ok purge
	local code
	code=$(nsenter --net="/run/netns/$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:19466/healthz)
	expect_eq "healthz without state" "$code" 503
	code=$(nsenter --net="/run/netns/$NS" curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:19466/metrics)
	expect_eq "metrics without state" "$code" 503
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
}

# --max-series: beyond it, the largest rules when the limit was crossed keep
# their series, the rest go into rule="other", and the named set holds.
test_serve_max_series() {
	lab_pair || return 1
	ip -n "$A" link set lo up
	ip -n "$B" addr add 198.18.0.3/24 dev b0
	ip -n "$B" addr add 198.18.0.4/24 dev b0
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2 --ip-address 198.18.0.3
	ping_n "$A" 198.18.0.2 5 100 || fail "ping"
	ping_n "$A" 198.18.0.3 2 100 || fail "ping"
	tm_ok add --ip-address 198.18.0.4 --ip-address 198.18.0.5
	serve_start 19467 --max-series 2 || return 1
	local m i
	m=$(scrape 19467 /metrics)
	printf '%s\n' "$m" | promtool check metrics || fail "promtool check metrics with folding"
	expect_eq "folded" "$(printf '%s\n' "$m" | awk '$1 == "traffic_meter_rules_folded" {print $2}')" 2
	expect_eq "other: nothing from the two idle rules" "$(metric "$m" traffic_meter_bytes_total 'rule="other",family="any",direction="up"')" 0
	for i in 1 2 3; do
		ping_n "$A" 198.18.0.4 4 900 || fail "ping" # now the largest, but folded
		m=$(scrape 19467 /metrics)
		expect_eq "named rules hold ($i)" "$(printf '%s\n' "$m" | grep -o 'rule="[^"]*"' | sort -u | tr '\n' ' ')" \
			'rule="198.18.0.2/32" rule="198.18.0.3/32" rule="other" '
	done
	expect_eq "other sums the folded" "$(metric "$m" traffic_meter_bytes_total 'rule="other",family="any",direction="up"')" $((12 * 928))
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
}

# attach_mode_of IF: the attach mode `status --json` records for IF.
attach_mode_of() {
	tm status --json
	printf '%s' "$OUT" | python3 -c 'import json, sys
print(next((i["attach_mode"] for i in json.load(sys.stdin)["interfaces"] if i["name"] == sys.argv[1]), "none"))' "$1"
}

# serve's upkeep (SPEC §2), with no other command run meanwhile: a configured
# interface that comes back with a new ifindex (a PPP or WireGuard device
# re-created; a veth here) is attached again, in the mode it had, and counts
# on; an upper device made on an attached one enters the once-per-host
# bookkeeping.
test_serve_upkeep() {
	lab_pair || return 1
	printf '{"interfaces": ["a0"], "rules": ["198.18.0.2"]}\n' >"$WORK/upkeep.json"
	tm_ok load --dev a0 # the suite's attach mode (TCX, or tc filters in cli-netlink)
	tm_ok apply --config "$WORK/upkeep.json"
	local mode
	mode=$(attach_mode_of a0)
	ping_n "$A" 198.18.0.2 2 100 || fail "ping"
	serve_start 19468 --config "$WORK/upkeep.json" || return 1
	local old_ifindex
	old_ifindex=$(ip -n "$A" -o link show a0 | cut -d: -f1)
	ip -n "$A" link del a0
	veth "$A" a0 198.18.0.1/24 "$B" b0 198.18.0.2/24 || return 1
	[ "$(ip -n "$A" -o link show a0 | cut -d: -f1)" != "$old_ifindex" ] || fail "a0 kept its ifindex"
	wait_until 10 grep -q "attached to a0 again" "$WORK/serve.out" ||
		fail "serve did not attach a0 again: $(cat "$WORK/serve.out" "$WORK/serve.err")"
	upkept_a0() { tm status --json && [ "$RC" -eq 0 ] && [[ $OUT == *'"name": "a0"'* ]]; }
	wait_until 5 upkept_a0 || fail "status after re-attach: exit $RC: $OUT $ERR"
	expect_eq "attach mode after re-attach" "$(attach_mode_of a0)" "$mode"
	ping_n "$A" 198.18.0.2 3 100 || fail "ping"
	expect_eq "counted before and after the device came back" "$(counters 198.18.0.2/32)" \
		"$((5 * 128)) 5 $((5 * 128)) 5"
	# An upper device on attached a0; only serve runs meanwhile.
	ip -n "$A" link add link a0 name mv0 type macvlan mode bridge
	ip -n "$A" link set mv0 up
	upper_known() {
		tm status --json
		printf '%s' "$OUT" | python3 -c 'import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["upper_devices_current"] and any(u["name"] == "mv0" and u["all_lower_attached"] for u in d["upper_devices"]) else 1)'
	}
	wait_until 5 upper_known || fail "serve did not record mv0: $OUT"
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	expect_eq "serve exits 0 on SIGTERM" "$?" 0
}

# watch --json during traffic at a known rate: 200 datagrams/s of 500 IP
# bytes (800 kbit/s) one way, paced on the clock.
test_watch_rates() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2
	nsenter --net="/run/netns/$B" python3 "$E2E_DIR/udp_sink.py" --bind 198.18.0.2 --port 7100 \
		--count 1200 --timeout 15 >/dev/null &
	local sink=$!
	sleep 0.3
	nsenter --net="/run/netns/$A" python3 "$E2E_DIR/udp_send.py" --dst 198.18.0.2 --port 7100 \
		--count 1200 --size 472 --rate 200 --timeout 15 >/dev/null &
	local sender=$!
	# The first refresh covers the second after watch starts: the sender
	# must be sending by then (a fixed sleep was not enough on a loaded
	# machine, where its first packets came after the interval began).
	sending() { local up; up=$(counters 198.18.0.2/32 | cut -d' ' -f2); [[ $up =~ ^[0-9]+$ ]] && ((up >= 10)); }
	wait_until 10 sending || fail "the sender did not start: $(counters 198.18.0.2/32)"
	tm_ok watch --count 3 --json --interval 1
	wait "$sender" || fail "sender"
	wait "$sink"
	expect_eq "NDJSON lines" "$(printf '%s\n' "$OUT" | wc -l)" 3
	printf '%s\n' "$OUT" | python3 -c '
import json, sys
for n, line in enumerate(sys.stdin, 1):
    d = json.loads(line)
    r = next(r for r in d["rules"] if r["rule"] == "198.18.0.2/32")
    assert abs(d["interval_s"] - 1.0) < 0.2, d["interval_s"]
    for key, want in (("up_pps", 200), ("up_bps", 800000)):
        assert abs(r[key] - want) <= 0.1 * want, f"refresh {n}: {key} {r[key]}, want {want} +-10%"
    assert r["down_pps"] == 0 and r["down_bps"] == 0, r
    assert r["up_packets"] > 0 and "up_bytes" in r
' || fail "watch rates: $OUT"
}

# The interactive screen, in a real terminal: redrawn in place (one header,
# whatever the number of refreshes), fitted to the width, and the terminal
# given back on Ctrl-C.
test_watch_screen() {
	lab_pair || return 1
	tm_ok load --dev a0
	tm_ok add --ip-address 198.18.0.2 --ip-address 198.18.0.0/24 --ip-address 2001:db8::/64
	local session="$RUN_ID-watch" screen
	tmux new-session -d -s "$session" -x 100 -y 12 \
		"nsenter --net=/run/netns/$NS $TM_BIN --pin-path $PIN watch --interval 0.3; echo WATCH-EXITED \$?; sleep 30"
	(ping_n "$A" 198.18.0.2 40 500 || true) &
	local pinger=$!
	sleep 2.5
	screen=$(tmux capture-pane -p -t "$session")
	expect_eq "one header on the screen after several refreshes" "$(printf '%s\n' "$screen" | grep -c 'traffic_meter watch')" 1
	expect_contains "rates on the screen" "$screen" "198.18.0.2/32"
	expect_contains "packet columns at 100 columns" "$screen" "UP pkt/s"
	[ "$(printf '%s\n' "$screen" | head -4 | tail -1 | awk '{print $1}')" = "198.18.0.0/24" ] ||
		[ "$(printf '%s\n' "$screen" | head -4 | tail -1 | awk '{print $1}')" = "198.18.0.2/32" ] ||
		fail "top talker not first: $screen"
	tmux resize-window -t "$session" -x 50 -y 12
	sleep 1
	screen=$(tmux capture-pane -p -t "$session")
	printf '%s\n' "$screen" | awk 'length > 50 {exit 1}' || fail "lines wider than 50 columns"
	if [[ $screen == *"pkt/s"*"pkt/s"*"pkt/s"* ]]; then fail "packet columns kept at 50 columns: $screen"; fi
	tmux send-keys -t "$session" C-c
	sleep 1
	screen=$(tmux capture-pane -p -t "$session")
	expect_contains "exits 0 on Ctrl-C" "$screen" "WATCH-EXITED 0"
	if [[ $screen == *"traffic_meter watch"* ]]; then fail "the screen was not given back: $screen"; fi
	tmux kill-session -t "$session"
	wait "$pinger"
}

test_apply_config() {
	lab_pair || return 1
	veth "$A" a1 198.18.1.1/24 "$B" b1 198.18.1.2/24 || return 1
	cat >"$WORK/cfg.json" <<-EOF
	{"interfaces": ["a0", "wg9"], "rules": ["198.18.0.0/24", "2001:db8::/64"], "max_rules": 1000, "max_flows": 4096}
	EOF
	tm_ok apply --config "$WORK/cfg.json" --dry-run
	expect_contains "dry run" "$OUT" "would attach to a0"
	[ ! -e "$PIN" ] || fail "--dry-run changed something"
	tm_ok apply --config "$WORK/cfg.json"
	expect_contains "apply" "$OUT" "attached to a0"
	expect_contains "absent interface" "$OUT" "wg9 is not here (yet)"
	tm_ok apply --config "$WORK/cfg.json"
	expect_contains "second run" "$OUT" "no changes"
	expect_eq "rules" "$(rule_list)" $'198.18.0.0/24\n2001:db8::/64'
	ping_n "$A" 198.18.0.2 2 100 || fail "ping"
	expect_eq "counting" "$(counters 198.18.0.0/24)" "256 2 256 2"
	cat >"$WORK/cfg2.json" <<-EOF
	{"interfaces": ["a1"], "rules": ["198.18.0.0/24", "198.18.1.0/24"], "max_rules": 2000}
	EOF
	tm_ok apply --config "$WORK/cfg2.json"
	expect_contains "moves" "$OUT" "detached from a0"
	expect_contains "moves" "$OUT" "attached to a1"
	expect_contains "resizes" "$OUT" "resized to 2000 rules"
	expect_eq "kept rule keeps counters" "$(counters 198.18.0.0/24)" "256 2 256 2"
	tm_ok status --json
	printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert [i["name"] for i in d["interfaces"]]==["a1"] and d["rules"]["capacity"]==2000, d' ||
		fail "status after apply: $OUT"
	cat >"$WORK/bad.json" <<-'EOF'
	{"interfaces": ["a0"], "rules": ["bogus"], "colour": "blue", "max_flows": 0}
	EOF
	expect_error 2 "3 problems, nothing changed" apply --config "$WORK/bad.json"
	expect_contains "names the unknown key" "$ERR" 'unknown key "colour"'
	expect_contains "names the bad rule" "$ERR" "rules entry 1"
	expect_eq "nothing changed" "$(rule_list)" $'198.18.0.0/24\n198.18.1.0/24'
}

# ---------------------------------------------------------------- runner

ALL_TESTS=$(declare -F | awk '{print $3}' | grep '^test_' | sed 's/^test_//')
SELECTED=("$@")
[ ${#SELECTED[@]} -gt 0 ] || mapfile -t SELECTED <<<"$ALL_TESTS"

for t in "${SELECTED[@]}"; do
	CURRENT=${t//_/}
	CURRENT=${CURRENT:0:14}
	CASE_FAILED=0
	echo "--- $t"
	"test_$t"
	[ $? -eq 0 ] || CASE_FAILED=1
	if [ "$CASE_FAILED" -eq 0 ]; then
		PASSED+=("$t")
		echo "ok   $t"
	else
		FAILED+=("$t")
		echo "FAIL $t"
		if [ "${TM_CLI_KEEP:-0}" = 1 ]; then
			echo "kept: namespaces ${NAMESPACES[*]} pin paths ${PIN_PATHS[*]}"
			trap - EXIT
			exit 1
		fi
	fi
	teardown_all
done

echo "${#PASSED[@]} passed, ${#FAILED[@]} failed${FAILED:+: ${FAILED[*]}}"
[ ${#FAILED[@]} -eq 0 ]
