#!/usr/bin/env bash
# Counters and rules survive unloading one of two attached interfaces, an
# in-place re-load of an attached interface, unload --all and a re-load;
# with one side unloaded, routed packets still count once (at the egress
# of the attached side when they entered through the unloaded one).
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init unload_reload

ns_add a r b
veth a a0 r r0
veth b b0 r r1
router r
addr a a0 198.18.24.2/24 2001:db8:24::2/64
addr r r0 198.18.24.1/24 2001:db8:24::1/64
addr r r1 198.18.25.1/24 2001:db8:25::1/64
addr b b0 198.18.25.2/24 2001:db8:25::2/64
route a default 198.18.24.1
route a default 2001:db8:24::1
route b default 198.18.25.1
route b default 2001:db8:25::1
static_neigh a a0 r r0
static_neigh b b0 r r1

tm_ns r
tm load --dev r0
tm load --dev r1
A4=198.18.24.2/32 A6=2001:db8:24::2/128 B4=198.18.25.2/32
tm add --ip-address $A4 --ip-address $A6 --ip-address $B4
N=5 S=400 R=100
U4=$((N * $(udp4_bytes $S))) D4=$((N * $(udp4_bytes $R)))
U6=$((N * $(udp6_bytes $S))) D6=$((N * $(udp6_bytes $R)))
port=15000
# round: A -> B, N datagrams and N replies, IPv4 and IPv6
round() {
	port=$((port + 1))
	udp_exchange a b 198.18.25.2 $port $N $S $R
	udp_exchange a b 2001:db8:25::2 $port $N $S $R
}
# after K: expected totals after K rounds
after() {
	local k=$1
	expect $(flow $A4 $((k * N)) $((k * U4)) $((k * N)) $((k * D4))) \
		$(flow $A6 $((k * N)) $((k * U6)) $((k * N)) $((k * D6))) \
		$(flow $B4 $((k * N)) $((k * U4)) $((k * N)) $((k * D4)))
}

log "both attached"
round
after 1

log "unload r1: counters stay; A <-> B still counts once, on r0"
tm unload --dev r1
after 1
round
after 2

log "load r1 again: counters continue"
tm load --dev r1
after 2
round
after 3

log "load r0 while attached: replaced in place, no counter lost"
tm load --dev r0
after 3
round
after 4

log "unload --all: nothing attached, nothing counted, rules and counters pinned"
tm unload --all
after 4
round
after 4
tm status >/dev/null

log "load both again"
tm load --dev r0
tm load --dev r1
round
after 5
pass
