#!/usr/bin/env bash
# A bridge with both ports attached (not the bridge itself): every bridged
# packet counts exactly once, IPv4 and IPv6. Attaching the bridge on top of
# its attached ports is refused without --force.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init bridge

ns_add a br b
veth a a0 br p1
veth b b0 br p2
bridge_add br br0 p1 p2
addr a a0 198.18.10.1/24 2001:db8:10::1/64
addr b b0 198.18.10.2/24 2001:db8:10::2/64
static_neigh a a0 b b0

tm_ns br
tm load --dev p1
tm load --dev p2
A4=198.18.10.1/32 B4=198.18.10.2/32 A6=2001:db8:10::1/128 B6=2001:db8:10::2/128
tm add --ip-address $A4 --ip-address $B4 --ip-address $A6 --ip-address $B6
base=$LAB_WORK/base

for fam in 4 6; do
	if [[ $fam == 4 ]]; then A=$A4 B=$B4 aip=198.18.10.1 bip=198.18.10.2; else
		A=$A6 B=$B6 aip=2001:db8:10::1 bip=2001:db8:10::2; fi

	log "IPv$fam: A -> B across the bridge, 15 x 700 B, 15 x 64 B replies, each once"
	snapshot "$base"
	udp_exchange a b "$bip" 9001 15 700 64
	expect --baseline "$base" $(flow $A 15 $((15 * $(udp_bytes $fam 700))) 15 $((15 * $(udp_bytes $fam 64)))) \
		$(flow $B 15 $((15 * $(udp_bytes $fam 700))) 15 $((15 * $(udp_bytes $fam 64))))

	log "IPv$fam: B pings A, 5 x 1000 B"
	snapshot "$base"
	ping_n b "$aip" 5 1000
	expect --baseline "$base" $(flow $A 5 $((5 * $(udp_bytes $fam 1000))) 5 $((5 * $(udp_bytes $fam 1000)))) \
		$(flow $B 5 $((5 * $(udp_bytes $fam 1000))) 5 $((5 * $(udp_bytes $fam 1000))))
done

log "load --dev br0 over attached ports is refused without --force"
if tm_rc load --dev br0; then
	fail "load --dev br0 succeeded although its ports p1, p2 are attached"
fi
snapshot "$base"
udp_exchange a b 198.18.10.2 9002 4 100 100
expect --baseline "$base" $(flow $A4 4 $((4 * $(udp4_bytes 100))) 4 $((4 * $(udp4_bytes 100))))
pass
