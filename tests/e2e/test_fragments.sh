#!/usr/bin/env bash
# IPv4 and IPv6 fragments, both directions: UDP datagrams larger than the
# MTU leave and arrive as fragments; every wire fragment counts with its
# own IP header (and IPv6 fragment header), in the flow of its datagram.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init fragments

ns_add h p
veth h h0 p p0
addr h h0 198.18.14.1/24 2001:db8:14::1/64
addr p p0 198.18.14.2/24 2001:db8:14::2/64
static_neigh h h0 p p0

tm_ns h
tm load --dev h0
H4=198.18.14.1/32 P4=198.18.14.2/32 H6=2001:db8:14::1/128 P6=2001:db8:14::2/128
tm add --ip-address $H4 --ip-address $P4 --ip-address $H6 --ip-address $P6
base=$LAB_WORK/base
N=6

port=11000
for mtu in 1500 1280; do
	nsx h ip link set h0 mtu $mtu
	nsx p ip link set p0 mtu $mtu
	for fam in 4 6; do
		if [[ $fam == 4 ]]; then H=$H4 P=$P4 hip=198.18.14.1 pip=198.18.14.2; else
			H=$H6 P=$P6 hip=2001:db8:14::1 pip=2001:db8:14::2; fi
		for sizes in "4000 3000" "1473 9000" "20000 100"; do
			read -r s r <<<"$sizes"
			read -r up_n up_b <<<"$(frag_bytes $fam $mtu "$s")"
			read -r dn_n dn_b <<<"$(frag_bytes $fam $mtu "$r")"
			log "MTU $mtu IPv$fam: H -> P $N x $s B ($up_n fragments), replies $r B ($dn_n fragments)"
			snapshot "$base"
			port=$((port + 1))
			udp_exchange h p "$pip" $port $N "$s" "$r"
			expect --baseline "$base" $(flow $H $((N * up_n)) $((N * up_b)) $((N * dn_n)) $((N * dn_b))) \
				$(flow $P $((N * up_n)) $((N * up_b)) $((N * dn_n)) $((N * dn_b)))

			log "MTU $mtu IPv$fam: P -> H $N x $r B, replies $s B"
			snapshot "$base"
			port=$((port + 1))
			udp_exchange p h "$hip" $port $N "$r" "$s"
			expect --baseline "$base" $(flow $H $((N * dn_n)) $((N * dn_b)) $((N * up_n)) $((N * up_b)))
		done
	done
done
pass
