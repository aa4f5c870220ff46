#!/usr/bin/env bash
# A tun device (no link-layer header): exact UDP and ICMP counts, IPv4 and
# IPv6. Two tun devices in two namespaces are joined by tun_wire.py.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init tun
[[ -c /dev/net/tun ]] || skip "/dev/net/tun missing"

ns_add a b
tun_wire a ta b tb
addr a ta 198.18.20.1/24 2001:db8:20::1/64
addr b tb 198.18.20.2/24 2001:db8:20::2/64
wait_for 5 nsx a ping -c 1 -W 1 198.18.20.2 || fail "no IPv4 connectivity over the tun wire"
wait_for 5 nsx a ping -c 1 -W 1 2001:db8:20::2 || fail "no IPv6 connectivity over the tun wire"

tm_ns a
tm load --dev ta
A4=198.18.20.1/32 B4=198.18.20.2/32 A6=2001:db8:20::1/128 B6=2001:db8:20::2/128
tm add --ip-address $A4 --ip-address $B4 --ip-address $A6 --ip-address $B6
base=$LAB_WORK/base

for fam in 4 6; do
	if [[ $fam == 4 ]]; then A=$A4 B=$B4 aip=198.18.20.1 bip=198.18.20.2; else
		A=$A6 B=$B6 aip=2001:db8:20::1 bip=2001:db8:20::2; fi

	log "IPv$fam: A -> B over tun: 9 x 333 B, 9 x 77 B replies"
	snapshot "$base"
	udp_exchange a b "$bip" 13001 9 333 77
	expect --baseline "$base" $(flow $A 9 $((9 * $(udp_bytes $fam 333))) 9 $((9 * $(udp_bytes $fam 77)))) \
		$(flow $B 9 $((9 * $(udp_bytes $fam 333))) 9 $((9 * $(udp_bytes $fam 77))))

	log "IPv$fam: B -> A: 4 x 1200 B, 4 x 0 B replies"
	snapshot "$base"
	udp_exchange b a "$aip" 13002 4 1200 0
	expect --baseline "$base" $(flow $A 4 $((4 * $(udp_bytes $fam 1200))) 4 $((4 * $(udp_bytes $fam 0))))

	log "IPv$fam: A pings B, 3 x 64 B"
	snapshot "$base"
	ping_n a "$bip" 3 64
	expect --baseline "$base" $(flow $A 3 $((3 * $(udp_bytes $fam 64))) 3 $((3 * $(udp_bytes $fam 64))))
done
pass
