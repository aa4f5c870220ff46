#!/usr/bin/env bash
# Catch-all rules (0.0.0.0/0, ::/0) count each packet once even though
# both its addresses match them; longest prefix wins per address; a packet
# whose two addresses fall in one rule counts once there.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init catchall

ns_add h p
veth h h0 p p0
addr h h0 198.18.4.1/24 2001:db8:4::1/64
addr p p0 198.18.4.2/24 198.18.6.2/24 2001:db8:4::2/64 2001:db8:6::2/64
nsx h ip route add 198.18.6.0/24 dev h0
nsx h ip -6 route add 2001:db8:6::/64 dev h0
static_neigh h h0 p p0

tm_ns h
tm load --dev h0
tm add --ip-address 0.0.0.0/0 --ip-address ::/0
base=$LAB_WORK/base
N=8 S=250 R=40

# traffic: H -> P (same /24) and H -> P2 (other /24), N datagrams, N replies
round() {
	local fam=$1 port=$2
	if [[ $fam == 4 ]]; then
		udp_exchange h p 198.18.4.2 "$port" $N $S $R
		udp_exchange h p 198.18.6.2 $((port + 1)) $N $S $R
	else
		udp_exchange h p 2001:db8:4::2 "$port" $N $S $R
		udp_exchange h p 2001:db8:6::2 $((port + 1)) $N $S $R
	fi
}
U4=$((N * $(udp4_bytes $S))) D4=$((N * $(udp4_bytes $R)))
U6=$((N * $(udp6_bytes $S))) D6=$((N * $(udp6_bytes $R)))

log "only catch-alls: every packet once"
snapshot "$base"
round 4 7000
round 6 7000
expect --baseline "$base" $(flow 0.0.0.0/0 $((2 * N)) $((2 * U4)) $((2 * N)) $((2 * D4))) \
	$(flow ::/0 $((2 * N)) $((2 * U6)) $((2 * N)) $((2 * D6)))

log "add 198.18.0.0/15, 198.18.4.0/24, 198.18.4.1/32 (and IPv6 alike): longest prefix per address"
tm add --ip-address 198.18.0.0/15 --ip-address 198.18.4.0/24 --ip-address 198.18.4.1/32 \
	--ip-address 2001:db8::/32 --ip-address 2001:db8:4::/64 --ip-address 2001:db8:4::1/128
snapshot "$base"
round 4 7010
round 6 7010
# H's packets: source H -> /32 (both rounds); destination P -> /24, P2 -> /15
expect --baseline "$base" \
	$(flow 198.18.4.1/32 $((2 * N)) $((2 * U4)) $((2 * N)) $((2 * D4))) \
	$(flow 198.18.4.0/24 $N $U4 $N $D4) \
	$(flow 198.18.0.0/15 $N $U4 $N $D4) \
	$(flow 0.0.0.0/0 0 0 0 0) \
	$(flow 2001:db8:4::1/128 $((2 * N)) $((2 * U6)) $((2 * N)) $((2 * D6))) \
	$(flow 2001:db8:4::/64 $N $U6 $N $D6) \
	$(flow 2001:db8::/32 $N $U6 $N $D6) \
	$(flow ::/0 0 0 0 0)

log "delete the host rules: H and P now share one /24 (/64) rule, counted once there"
tm del --ip-address 198.18.4.1/32 --ip-address 2001:db8:4::1/128
snapshot "$base"
round 4 7020
round 6 7020
expect --baseline "$base" \
	$(flow 198.18.4.0/24 $((2 * N)) $((2 * U4)) $((2 * N)) $((2 * D4))) \
	$(flow 198.18.0.0/15 $N $U4 $N $D4) \
	$(flow 2001:db8:4::/64 $((2 * N)) $((2 * U6)) $((2 * N)) $((2 * D6))) \
	$(flow 2001:db8::/32 $N $U6 $N $D6) \
	$(flow 0.0.0.0/0 0 0 0 0) $(flow ::/0 0 0 0 0) \
	198.18.4.1/32:absent 2001:db8:4::1/128:absent
pass
