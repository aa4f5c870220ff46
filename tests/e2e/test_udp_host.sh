#!/usr/bin/env bash
# Exact UDP, ICMP echo and ICMP error counts, IPv4 and IPv6, on a host
# interface: flows originated by either side, replies counted downstream.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init udp_host

ns_add h p
veth h h0 p p0
addr h h0 198.18.1.1/24 2001:db8:1::1/64
addr p p0 198.18.1.2/24 2001:db8:1::2/64
static_neigh h h0 p p0

tm_ns h
tm load --dev h0
tm add --ip-address 198.18.1.1 --ip-address 198.18.1.2/32 \
	--ip-address 2001:db8:1::1 --ip-address 2001:db8:1::2/128
H4=198.18.1.1/32 P4=198.18.1.2/32 H6=2001:db8:1::1/128 P6=2001:db8:1::2/128
expect $(flow $H4 0 0 0 0) $(flow $H6 0 0 0 0)
base=$LAB_WORK/base

for fam in 4 6; do
	if [[ $fam == 4 ]]; then H=$H4 P=$P4 hip=198.18.1.1 pip=198.18.1.2; else
		H=$H6 P=$P6 hip=2001:db8:1::1 pip=2001:db8:1::2; fi

	log "IPv$fam: H originates: 10 x 100 B up, 10 x 300 B replies down"
	snapshot "$base"
	udp_exchange h p "$pip" 5001 10 100 300
	expect --baseline "$base" $(flow $H 10 $((10 * $(udp_bytes $fam 100))) 10 $((10 * $(udp_bytes $fam 300)))) \
		$(flow $P 10 $((10 * $(udp_bytes $fam 100))) 10 $((10 * $(udp_bytes $fam 300))))

	log "IPv$fam: P originates: 7 x 200 B up, 7 x 50 B replies down (for both rules)"
	snapshot "$base"
	udp_exchange p h "$hip" 5002 7 200 50
	expect --baseline "$base" $(flow $H 7 $((7 * $(udp_bytes $fam 200))) 7 $((7 * $(udp_bytes $fam 50)))) \
		$(flow $P 7 $((7 * $(udp_bytes $fam 200))) 7 $((7 * $(udp_bytes $fam 50))))

	log "IPv$fam: closed port: 5 x 60 B up, 5 ICMP port unreachable down (quoted flow)"
	snapshot "$base"
	udp_unreachable h "$pip" 5999 5 60
	# ICMP error = IP header + 8 B ICMP header + the whole quoted datagram
	if [[ $fam == 4 ]]; then err=$((20 + 8 + $(udp_bytes $fam 60))); else err=$((40 + 8 + $(udp_bytes $fam 60))); fi
	expect --baseline "$base" $(flow $H 5 $((5 * $(udp_bytes $fam 60))) 5 $((5 * err)))

	log "IPv$fam: ping: 4 x 56 B echo request up, 4 replies down"
	snapshot "$base"
	ping_n h "$pip" 4 56
	echo_b=$(udp_bytes $fam 56) # ICMP header is 8 B like UDP's
	expect --baseline "$base" $(flow $H 4 $((4 * echo_b)) 4 $((4 * echo_b)))
done

# nothing leaked into the other family
tm show -H >/dev/null
pass
