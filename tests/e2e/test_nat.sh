#!/usr/bin/env bash
# NAT router (nft masquerade towards a WAN namespace) with only its LAN
# side attached: the LAN host's downloads and replies, de-NATed before the
# LAN egress hook, count downstream for the LAN host; its requests upstream.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init nat
command -v nft >/dev/null || skip "nft missing"

ns_add l r w
veth l l0 r lan0
veth w w0 r wan0
router r
addr l l0 198.18.12.2/24 2001:db8:12::2/64
addr r lan0 198.18.12.1/24 2001:db8:12::1/64
addr r wan0 198.19.12.1/24 2001:db8:13::1/64
addr w w0 198.19.12.2/24 2001:db8:13::2/64
route l default 198.18.12.1
route l default 2001:db8:12::1
static_neigh l l0 r lan0
static_neigh w w0 r wan0
# W has no route to the LAN: only masqueraded traffic can reach it and back.
nsx r nft -f - <<'NFT'
table inet tme_nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}
NFT

tm_ns r
tm load --dev lan0
L4=198.18.12.2/32 L6=2001:db8:12::2/128 W4=198.19.12.2/32 W6=2001:db8:13::2/128
RW4=198.19.12.1/32 RW6=2001:db8:13::1/128
tm add --ip-address $L4 --ip-address $L6 --ip-address $W4 --ip-address $W6 \
	--ip-address $RW4 --ip-address $RW6
base=$LAB_WORK/base

for fam in 4 6; do
	if [[ $fam == 4 ]]; then L=$L4 W=$W4 RW=$RW4 wip=198.19.12.2; else
		L=$L6 W=$W6 RW=$RW6 wip=2001:db8:13::2; fi

	log "IPv$fam: L -> W through masquerade: 10 x 80 B up, 10 x 900 B down"
	snapshot "$base"
	udp_exchange l w "$wip" 10001 10 80 900
	expect --baseline "$base" $(flow $L 10 $((10 * $(udp_bytes $fam 80))) 10 $((10 * $(udp_bytes $fam 900)))) \
		$(flow $W 10 $((10 * $(udp_bytes $fam 80))) 10 $((10 * $(udp_bytes $fam 900)))) $(flow $RW 0 0 0 0)

	log "IPv$fam: L pings W, 6 x 300 B"
	snapshot "$base"
	ping_n l "$wip" 6 300
	expect --baseline "$base" $(flow $L 6 $((6 * $(udp_bytes $fam 300))) 6 $((6 * $(udp_bytes $fam 300)))) $(flow $RW 0 0 0 0)

	log "IPv$fam: L downloads 2 MiB from W over TCP: downstream for L"
	snapshot "$base"
	n=$((2 * 1024 * 1024))
	tcp_transfer l w "$wip" 10002 $n 0
	expect --baseline "$base" "$L:down_bytes>=$n" \
		"$L:down_bytes<=$((n + n / 10 + TCP_RETRANS_WIRE))" \
		"$L:up_bytes<=$((n / 10))" "$L:up_packets>=3" $(flow $RW 0 0 0 0)
done
pass
