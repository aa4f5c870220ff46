#!/usr/bin/env bash
# Once per host through upper devices (SPEC §3): a router whose LAN port
# lan1 (attached) is a port of br-lan (with lan2, not attached) and whose
# WAN port is routed and attached; a macvlan mv0 on an attached device m0
# (a VLAN device is the same kind of upper device, but this machine has
# neither 8021q nor bridge VLAN filtering: tests/unit cover its records);
# and a macvlan created after `load`. By egress the kernel names the upper
# device as the packet's ingress interface: every packet must still count
# exactly once.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init upper

ns_add c1 c2 cm r s
veth c1 e0 r lan1
veth c2 e0 r lan2
veth cm m1 r m0
veth s s0 r wan
router r
bridge_add r br-lan lan1 lan2
addr r br-lan 198.18.30.1/24
addr c1 e0 198.18.30.11/24
addr c2 e0 198.18.30.12/24
addr r wan 198.18.31.1/24
addr s s0 198.18.31.2/24
nsx r ip link add link m0 name mv0 type macvlan mode bridge
nsx r ip link set mv0 up
addr r mv0 198.18.32.1/24
addr cm m1 198.18.32.11/24 198.18.34.11/24
for h in c1 c2; do route $h default 198.18.30.1; done
route cm default 198.18.32.1
route s default 198.18.31.1
# Static neighbours everywhere: no ARP during the measurements.
for p in "c1 e0 r br-lan" "c2 e0 r br-lan" "s s0 r wan"; do
	read -r h1 d1 h2 d2 <<<"$p"
	mac1=$(mac_of "$h1" "$d1") mac2=$(mac_of "$h2" "$d2")
	for a in $(global_addrs "$h1" "$d1"); do nsx "$h2" ip neigh replace "$a" lladdr "$mac1" dev "$d2" nud permanent; done
	for a in $(global_addrs "$h2" "$d2"); do nsx "$h1" ip neigh replace "$a" lladdr "$mac2" dev "$d1" nud permanent; done
done
nsx cm ip neigh replace 198.18.32.1 lladdr "$(mac_of r mv0)" dev m1 nud permanent
nsx r ip neigh replace 198.18.32.11 lladdr "$(mac_of cm m1)" dev mv0 nud permanent

tm_ns r
for d in lan1 wan m0; do tm load --dev "$d"; done
C1=198.18.30.11/32 C2=198.18.30.12/32 CM=198.18.32.11/32 CM2=198.18.34.11/32
tm add --ip-address $C1 --ip-address $C2 --ip-address $CM --ip-address $CM2
st=$(tm status)
[[ $st == *"upper devices: "*"br-lan (some lower devices not attached)"* ]] ||
	fail "status does not list br-lan as a partly attached upper device: $st"
[[ $st == *"upper devices: "*"mv0"* ]] || fail "status does not list mv0: $st"
base=$LAB_WORK/base
up=$(udp4_bytes 300) down=$(udp4_bytes 100)

log "bridge port lan1 (attached) -> routed wan (attached): once"
snapshot "$base"
udp_exchange c1 s 198.18.31.2 15001 10 300 100
expect --baseline "$base" $(flow $C1 10 $((10 * up)) 10 $((10 * down)))

log "bridge port lan2 (not attached) -> routed wan: once, at wan egress"
snapshot "$base"
udp_exchange c2 s 198.18.31.2 15002 10 300 100
expect --baseline "$base" $(flow $C2 10 $((10 * up)) 10 $((10 * down)))

log "macvlan mv0 on attached m0 -> wan: once"
snapshot "$base"
udp_exchange cm s 198.18.31.2 15003 10 300 100 --src 198.18.32.11
expect --baseline "$base" $(flow $CM 10 $((10 * up)) 10 $((10 * down)))

log "a macvlan created after load: stale until a command refreshes, then once"
nsx r ip link add link m0 name mv1 type macvlan mode bridge
nsx r ip link set mv1 up
addr r mv1 198.18.34.1/24
nsx cm ip neigh replace 198.18.34.1 lladdr "$(mac_of r mv1)" dev m1 nud permanent
nsx cm ip route replace 198.18.31.0/24 via 198.18.34.1 src 198.18.34.11
nsx r ip neigh replace 198.18.34.11 lladdr "$(mac_of cm m1)" dev mv1 nud permanent
st=$(tm status)
[[ $st == *"STALE (mv1 not recorded)"* ]] || fail "status does not say mv1 is missing from the bookkeeping: $st"
tm list >/dev/null # any command refreshes it
st=$(tm status)
[[ $st != *STALE* ]] || fail "still stale after a command: $st"
snapshot "$base"
udp_exchange cm s 198.18.31.2 15005 10 300 100 --src 198.18.34.11
expect --baseline "$base" $(flow $CM2 10 $((10 * up)) 10 $((10 * down)))
pass
