#!/usr/bin/env bash
# Link layers other than plain Ethernet (SPEC §3): one 802.1Q tag, two tags
# (802.1ad + 802.1Q) and PPPoE session frames, IPv4 and IPv6, at ingress
# (the kernel moves the outer tag into skb metadata before the tc hook) and
# at egress (tags still in the frame). Frames are built with scapy and
# sent from a packet socket; nobody answers them (no VLAN or PPPoE device
# exists), so every count is exact: one new flow, upstream.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init linklayers
"$PY" -c 'import scapy.all' 2>/dev/null || skip "python3-scapy missing"

ns_add h p
veth h h0 p p0
addr h h0 198.18.26.1/24 2001:db8:26::1/64
addr p p0 198.18.26.2/24 2001:db8:26::2/64

tm_ns h
tm load --dev h0
H4=198.18.26.1/32 P4=198.18.26.2/32 H6=2001:db8:26::1/128 P6=2001:db8:26::2/128
tm add --ip-address $H4 --ip-address $P4 --ip-address $H6 --ip-address $P6
base=$LAB_WORK/base
# Frames go to a MAC address nobody owns: the receiving stack drops them
# (after the tc hook) and answers nothing, not even ICMP port unreachable.
N=6 S=123 sport=41000

for kind in plain vlan qinq pppoe; do
	for fam in 4 6; do
		if [[ $fam == 4 ]]; then H=$H4 P=$P4 hip=198.18.26.1 pip=198.18.26.2 b=$(udp4_bytes $S); else
			H=$H6 P=$P6 hip=2001:db8:26::1 pip=2001:db8:26::2 b=$(udp6_bytes $S); fi

		log "$kind IPv$fam ingress: P sends $N frames to H"
		snapshot "$base"
		sport=$((sport + 1))
		nsx p "$PY" "$E2E_DIR/l2_send.py" --iface p0 --kind $kind --src $pip --dst $hip \
			--dst-mac 02:00:00:00:00:99 --count $N --size $S --sport $sport || fail "l2_send failed"
		expect --baseline "$base" $(flow $H $N $((N * b)) 0 0) $(flow $P $N $((N * b)) 0 0)

		log "$kind IPv$fam egress: H sends $N frames to P"
		snapshot "$base"
		sport=$((sport + 1))
		nsx h "$PY" "$E2E_DIR/l2_send.py" --iface h0 --kind $kind --src $hip --dst $pip \
			--dst-mac 02:00:00:00:00:99 --count $N --size $S --sport $sport || fail "l2_send failed"
		expect --baseline "$base" $(flow $H $N $((N * b)) 0 0) $(flow $P $N $((N * b)) 0 0)
	done
done
pass
