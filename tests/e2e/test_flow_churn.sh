#!/usr/bin/env bash
# Busy flow tables (SPEC §3): live two-way flows keep their entry, and so
# their direction, while one-way churn several times the flow table's size
# passes through the same meter. A router meters client c and server s with
# --max-flows 1024; a slow and a fast flow between them have seen both ways;
# then x floods 8192 one-way flows (2 packets each, so that the kernel's LRU
# takes them for active ones) to another address behind the router, while the
# fast flow keeps exchanging. Afterwards s speaks first on both flows: its
# packets must still be downstream (c originated them). The generators run
# on CPU 0 and the last phase on the last CPU (packets are forwarded on the
# CPU that sent them): no per-CPU state may stand in for the shared table.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init churn
for cpu in 0 $(($(nproc) - 1)); do
	printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$cpu" "$PY" >"$LAB_WORK/python-cpu$cpu"
	chmod +x "$LAB_WORK/python-cpu$cpu"
done
PY_LAST=$LAB_WORK/python-cpu$(($(nproc) - 1))
PY=$LAB_WORK/python-cpu0

ns_add c s x r
veth c c0 r rc
veth s s0 r rs
veth x x0 r rx
router r
addr c c0 198.18.50.2/24
addr r rc 198.18.50.1/24
addr s s0 198.18.51.2/24 198.18.51.3/24
addr r rs 198.18.51.1/24
addr x x0 198.18.52.2/24
addr r rx 198.18.52.1/24
route c default 198.18.50.1
route s default 198.18.51.1
route x default 198.18.52.1
static_neigh c c0 r rc
static_neigh s s0 r rs
static_neigh x x0 r rx

tm_ns r
tm load --dev rc --max-flows 1024
tm load --dev rs
tm load --dev rx
C=198.18.50.2/32 S=198.18.51.2/32
tm add --ip-address $C --ip-address $S
base=$LAB_WORK/base

log "two two-way flows: slow c:5000 <-> s:6000, fast c:5001 <-> s:6001"
udp_exchange c s 198.18.51.2 6000 2 100 50 --sport 5000
udp_exchange c s 198.18.51.2 6001 2 100 50 --sport 5001

log "x floods 8192 one-way flows, 2 packets each, to 198.18.51.3 (8 x the flow table) while the fast flow goes on"
ready=$LAB_WORK/fast.ready
bg nsx s "$PY" "$E2E_DIR/udp_sink.py" --bind 198.18.51.2 --port 6001 --count 100 --reply-size 50 \
	--timeout 30 --ready-file "$ready"
fast_sink=$BG_PID
wait_for 5 test -e "$ready" || fail "fast flow's sink did not start"
bg nsx c "$PY" "$E2E_DIR/udp_send.py" --dst 198.18.51.2 --port 6001 --sport 5001 --count 100 \
	--size 100 --expect-replies --interval 0.02 --timeout 30
fast=$BG_PID
nsx x "$PY" "$E2E_DIR/udp_send.py" --dst 198.18.51.3 --port 20000 --dport-span 8192 --per-port 2 --count 16384 \
	--size 10 --timeout 30 >/dev/null || fail "scan"
wait_pid "$fast" 30 >/dev/null || fail "the fast flow lost replies"
wait_pid "$fast_sink" 30 >/dev/null || fail "the fast flow's sink"
tm status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["flows"]["count"] <= 1024 + 1024 else d["flows"])' ||
	fail "flow tables over capacity"

log "s speaks first on both flows: downstream, as c originated them"
PY=$PY_LAST
for pair in "5000 6000" "5001 6001"; do
	read -r cport sport <<<"$pair"
	snapshot "$base"
	udp_exchange s c 198.18.50.2 "$cport" 3 100 50 --sport "$sport"
	# s's 3 x 128 B down, c's 3 x 78 B answers up, for both rules.
	expect --baseline "$base" $(flow $C 3 $((3 * 78)) 3 $((3 * 128))) $(flow $S 3 $((3 * 78)) 3 $((3 * 128)))
done
pass
