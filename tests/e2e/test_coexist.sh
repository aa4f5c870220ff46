#!/usr/bin/env bash
# Coexistence with foreign tc filters: filters before traffic_meter's (that
# let the packet go on) and after it keep seeing every packet once it is
# loaded (traffic_meter lets the next classifier run), and survive its
# unload, as does their clsact qdisc. On a device with nothing else,
# unload removes the clsact qdisc load created.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init coexist

ns_add h p
veth h h0 p p0
addr h h0 198.18.22.1/24
addr p p0 198.18.22.2/24
static_neigh h h0 p p0

command -v clang >/dev/null || skip "clang missing (builds the foreign filter)"
command -v bpftool >/dev/null || skip "bpftool missing"
# The foreign filters are small BPF programs that count IPv4 packets: this
# kernel may have neither cls_matchall nor act_gact, and a u32 filter keeps
# no per-rule counters. One continues (TC_ACT_UNSPEC) before
# traffic_meter's filter, one passes (TC_ACT_OK) after it; a u32 filter
# that matches nothing sits in between.
multiarch=$(gcc -dumpmachine 2>/dev/null || echo "$(uname -m)-linux-gnu")
FOREIGN=$PIN-foreign # pinned with bpftool: `tc ... bpf obj` would create /sys/fs/bpf/tc
LAB_PINS+=("$FOREIGN")
mkdir -p "$FOREIGN"
for v in UNSPEC OK; do
	clang -O2 -g -target bpf -idirafter "/usr/include/$multiarch" -DVERDICT=TC_ACT_$v \
		-c "$E2E_DIR/../common/foreign_counter.bpf.c" -o "$LAB_WORK/foreign_$v.o" ||
		skip "cannot build the foreign BPF filter"
done
nsx h tc qdisc add dev h0 clsact
for hook in ingress egress; do
	for v in UNSPEC OK; do
		bpftool prog load "$LAB_WORK/foreign_$v.o" "$FOREIGN/$hook-$v" type classifier \
			pinmaps "$FOREIGN/$hook-$v-maps"
	done
	nsx h tc filter add dev h0 $hook prio 1 bpf da pinned "$FOREIGN/$hook-UNSPEC"
	nsx h tc filter add dev h0 $hook prio 2 protocol ip u32 match ip dst 198.18.99.99/32 classid 1:1
	nsx h tc filter add dev h0 $hook prio 65000 bpf da pinned "$FOREIGN/$hook-OK"
done

# foreign HOOK PREF: IPv4 packets seen by a foreign filter ("none": no filter)
foreign() {
	local id v=UNSPEC
	((${2} == 1)) || v=OK
	id=$(nsx h tc -j filter show dev h0 "$1" | "$PY" "$E2E_DIR/tc_filters.py" prog "$2")
	[[ $id != none ]] || { echo none; return; }
	bpftool -j map lookup pinned "$FOREIGN/$1-$v-maps/counts" key 0 0 0 0 | "$PY" -c '
import json, sys
v = json.load(sys.stdin)["value"]
print(int.from_bytes(bytes(int(b, 16) for b in v), "little") if isinstance(v, list) else int(v))'
}
declare -A before
snap_foreign() {
	local k
	for k in ingress:1 ingress:65000 egress:1 egress:65000; do
		before[$k]=$(foreign "${k%:*}" "${k#*:}")
	done
}
# expect_foreign DELTA: every foreign filter saw DELTA more packets
expect_foreign() {
	local k now
	for k in ingress:1 ingress:65000 egress:1 egress:65000; do
		now=$(foreign "${k%:*}" "${k#*:}")
		[[ $now != none ]] || fail "foreign filter $k is gone"
		((now - before[$k] == $1)) || {
			log "foreign filter $k saw $((now - before[$k])) packets, expected $1"
			return 1
		}
	done
}
prefs() { nsx h tc -j filter show dev h0 "$1" | "$PY" "$E2E_DIR/tc_filters.py" prefs; }

tm_ns h
H=198.18.22.1/32
base=$LAB_WORK/base
port=14000

# Both attach modes: a tc filter of ours among the foreign ones, or a TCX
# link (which runs before the classifiers) beside them.
for mode in netlink tcx; do
	log "attach mode $mode"
	tm load --dev h0 --attach-mode $mode
	if [[ $mode == netlink ]]; then
		[[ $(prefs ingress) == "1 2 65000" ]] && fail "load added no filter to h0 ingress"
	else
		[[ $(prefs ingress) == "1 2 65000" ]] || fail "TCX load changed h0's filters: $(prefs ingress)"
	fi
	tm add --ip-address 198.18.22.1 --ip-address 198.18.22.2

	log "$mode: with traffic_meter loaded, both see every packet"
	snap_foreign
	snapshot "$base"
	udp_exchange h p 198.18.22.2 $((++port)) 10 100 200
	expect --baseline "$base" $(flow $H 10 $((10 * $(udp4_bytes 100))) 10 $((10 * $(udp4_bytes 200))))
	wait_for 5 expect_foreign 10 || expect_foreign 10 || fail "foreign filters missed packets"

	log "$mode: unload: foreign filters and clsact stay and keep counting; rules and counters stay"
	tm unload --dev h0
	nsx h tc qdisc show dev h0 | grep -q clsact || fail "unload removed a clsact qdisc that still has foreign filters"
	[[ $(prefs ingress) == "1 2 65000" ]] || fail "h0 ingress filters after unload: $(prefs ingress)"
	[[ $(prefs egress) == "1 2 65000" ]] || fail "h0 egress filters after unload: $(prefs egress)"
	snap_foreign
	udp_exchange h p 198.18.22.2 $((++port)) 7 100 200
	wait_for 5 expect_foreign 7 || expect_foreign 7 || fail "foreign filters missed packets"
	expect --baseline "$base" $(flow $H 10 $((10 * $(udp4_bytes 100))) 10 $((10 * $(udp4_bytes 200))))

	log "$mode: load again: counting resumes, foreign filters unharmed"
	tm load --dev h0 --attach-mode $mode
	snap_foreign
	udp_exchange h p 198.18.22.2 $((++port)) 5 100 200
	expect --baseline "$base" $(flow $H 15 $((15 * $(udp4_bytes 100))) 15 $((15 * $(udp4_bytes 200))))
	wait_for 5 expect_foreign 5 || expect_foreign 5 || fail "foreign filters missed packets"

	log "$mode: a device with nothing else on it: unload leaves no clsact behind"
	nsx h ip link add d0 type veth peer name d1
	nsx h ip link set d0 up
	tm load --dev d0 --attach-mode $mode
	if [[ $mode == netlink ]]; then
		nsx h tc qdisc show dev d0 | grep -q clsact || fail "load did not create clsact on d0"
	fi
	tm unload --dev d0
	if nsx h tc qdisc show dev d0 | grep -q clsact; then fail "unload left an empty clsact qdisc on d0"; fi
	nsx h ip link del d0
	tm purge
done
pass
