#!/usr/bin/env bash
# Routing between two attached interfaces: every forwarded packet counts
# exactly once (at the ingress it met first), IPv4 and IPv6. Traffic the
# router itself sends (echo, ICMP time exceeded) counts at egress.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init udp_router

ns_add a r b
veth a a0 r r0
veth b b0 r r1
router r
addr a a0 198.18.2.2/24 2001:db8:2::2/64
addr r r0 198.18.2.1/24 2001:db8:2::1/64
addr r r1 198.18.3.1/24 2001:db8:3::1/64
addr b b0 198.18.3.2/24 2001:db8:3::2/64
route a default 198.18.2.1
route a default 2001:db8:2::1
route b default 198.18.3.1
route b default 2001:db8:3::1
static_neigh a a0 r r0
static_neigh b b0 r r1

tm_ns r
tm load --dev r0
tm load --dev r1
A4=198.18.2.2/32 B4=198.18.3.2/32 A6=2001:db8:2::2/128 B6=2001:db8:3::2/128
tm add --ip-address $A4 --ip-address $B4 --ip-address $A6 --ip-address $B6
base=$LAB_WORK/base

for fam in 4 6; do
	if [[ $fam == 4 ]]; then A=$A4 B=$B4 bip=198.18.3.2 aip=198.18.2.2; else
		A=$A6 B=$B6 bip=2001:db8:3::2 aip=2001:db8:2::2; fi

	log "IPv$fam: A -> B through the router: 12 x 500 B, 12 x 20 B replies, each once"
	snapshot "$base"
	udp_exchange a b "$bip" 6001 12 500 20
	expect --baseline "$base" $(flow $A 12 $((12 * $(udp_bytes $fam 500))) 12 $((12 * $(udp_bytes $fam 20)))) \
		$(flow $B 12 $((12 * $(udp_bytes $fam 500))) 12 $((12 * $(udp_bytes $fam 20))))

	log "IPv$fam: B -> A: 3 x 1000 B, no replies"
	snapshot "$base"
	udp_exchange b a "$aip" 6002 3 1000
	expect --baseline "$base" $(flow $A 3 $((3 * $(udp_bytes $fam 1000))) 0 0) $(flow $B 3 $((3 * $(udp_bytes $fam 1000))) 0 0)

	log "IPv$fam: router pings A: originated by the router, A's replies downstream"
	snapshot "$base"
	ping_n r "$aip" 3 100
	expect --baseline "$base" $(flow $A 3 $((3 * $(udp_bytes $fam 100))) 3 $((3 * $(udp_bytes $fam 100)))) $(flow $B 0 0 0 0)

	log "IPv$fam: A pings B with TTL 1: request up for A and B, time exceeded down for A"
	snapshot "$base"
	nsx a ping -q -n -c 1 -s 56 -t 1 -W 1 "$bip" >/dev/null 2>&1 || true
	if [[ $fam == 4 ]]; then te=$((20 + 8 + $(udp_bytes $fam 56))); else te=$((40 + 8 + $(udp_bytes $fam 56))); fi
	expect --baseline "$base" $(flow $A 1 $(udp_bytes $fam 56) 1 $te) $(flow $B 1 $(udp_bytes $fam 56) 0 0)
done
pass
