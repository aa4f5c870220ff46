#!/usr/bin/env bash
# TCP direction: a download is downstream for the client's rule (and for the
# server's: the client originated the connection), an upload upstream.
# Header and ACK bytes are not predictable exactly, so the checks are
# bounds: payload <= bytes <= payload + 10%, and the packet count matches
# MSS-sized wire segments (a GSO/GRO aggregate counts as its segments);
# the other direction carries at least the handshake and some ACKs.
# Retransmitted segments are on the wire and counted: the upper bounds
# grow by what the sender says it retransmitted (TCP_INFO, through
# tcp_transfer; a CPU-starved veth drops packets now and then).
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init tcp_direction

ns_add c s
veth c c0 s s0
addr c c0 198.18.8.1/24 2001:db8:8::1/64
addr s s0 198.18.8.2/24 2001:db8:8::2/64
static_neigh c c0 s s0

tm_ns c
tm load --dev c0
tm add --ip-address 198.18.8.1 --ip-address 198.18.8.2 --ip-address 2001:db8:8::1 --ip-address 2001:db8:8::2
base=$LAB_WORK/base
DOWN=$((3 * 1024 * 1024)) UP=$((1024 * 1024))

# bounds RULE DIR PAYLOAD MSS OTHERDIR: checks for the bulk transfer just
# made (its retransmissions: TCP_RETRANS_SEGS and TCP_RETRANS_WIRE)
bounds() {
	local rule=$1 dir=$2 n=$3 mss=$4 other=$5
	local segs=$(((n + mss - 1) / mss))
	printf '%s\n' "$rule:${dir}_bytes>=$((n + 40 * segs))" "$rule:${dir}_bytes<=$((n + n / 10 + TCP_RETRANS_WIRE))" \
		"$rule:${dir}_packets>=$segs" "$rule:${dir}_packets<=$((n / 1000 + 50 + TCP_RETRANS_SEGS))" \
		"$rule:${other}_bytes<=$((n / 10))" "$rule:${other}_packets>=3"
}

for fam in 4 6; do
	if [[ $fam == 4 ]]; then C=198.18.8.1/32 S=198.18.8.2/32 sip=198.18.8.2 mss=1448; else
		C=2001:db8:8::1/128 S=2001:db8:8::2/128 sip=2001:db8:8::2 mss=1428; fi

	log "IPv$fam: client downloads $DOWN B"
	snapshot "$base"
	tcp_transfer c s "$sip" 8001 $DOWN 0
	expect --baseline "$base" $(bounds $C down $DOWN $mss up) $(bounds $S down $DOWN $mss up)

	log "IPv$fam: client uploads $UP B"
	snapshot "$base"
	tcp_transfer c s "$sip" 8002 0 $UP
	expect --baseline "$base" $(bounds $C up $UP $mss down) $(bounds $S up $UP $mss down)
done
pass
