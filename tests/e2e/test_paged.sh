#!/usr/bin/env bash
# Headers in paged data (SPEC §3): a tap with IFF_NAPI_FRAGS makes the
# kernel build skbs whose linear part holds only the first bytes of each
# frame, as NIC drivers that pull only the first headers do; the headers
# behind them are read, not taken for a truncated packet.
#   A -> B UDP, 228 B, linear: Ethernet only                     up for A
#   A -> B UDP, 46 B (a 60-byte frame), linear: Ethernet only     up for A
#   B -> A port unreachable quoting it, 88 B, the quote paged    down for A
#   B6 -> A6 UDP, 148 B (B6 originates)                          up for A6
#   A6 -> B6 UDP after hop-by-hop and dst options, 164 B, chain paged
#                                                                down for A6
#   A -> B and B -> A SCTP, 148 B each, common header paged      up, down for A
# GRO pulls the IP and UDP headers it parses into the linear part; ICMP and
# SCTP, which it does not parse, stay paged: at least those 3 are paged.
# Then the same frames again with GRO off on the tap, which leaves all 7
# paged, the short one too (stop 37: it took the general parse, and was
# not counted as paged, before): the UDP ones are parsed from a copy of
# their first bytes (the fast parse on a copy, stop 36), the others by the
# general parse.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init paged
[[ -c /dev/net/tun ]] || skip "/dev/net/tun missing"

ns_add h
nsx h ip tuntap add dev tp0 mode tap
nsx h ip link set tp0 address 02:00:00:00:40:01 up
addr h tp0 198.18.42.1/24 2001:db8:42::1/64
nsx h sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
tm_ns h
tm load --dev tp0
A=198.18.42.2/32 A6=2001:db8:42::2/128
tm add --ip-address $A --ip-address $A6
"$PY" "$E2E_DIR/tap_inject.py" "$(nsname h)" tp0 paged --src4 198.18.42.2 --dst4 198.18.43.5 \
	--src6 2001:db8:42::2 --dst6 2001:db8:43::5 || fail "tap_inject paged"
expect $(flow $A 3 $((228 + 46 + 148)) 2 $((88 + 148))) $(flow $A6 1 148 1 164)
tm status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; sys.exit(0 if d["paged"] >= 3 and d["malformed"] == 0 else f"{d}")' ||
	fail "the frames were not paged, or were taken for malformed: $(tm status --json)"
paged_before=$(tm status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["dataplane"]["paged"])')

command -v ethtool >/dev/null || skip "ethtool missing"
nsx h ethtool -K tp0 gro off
"$PY" "$E2E_DIR/tap_inject.py" "$(nsname h)" tp0 paged --src4 198.18.42.2 --dst4 198.18.43.5 \
	--src6 2001:db8:42::2 --dst6 2001:db8:43::5 || fail "tap_inject paged, GRO off"
expect $(flow $A 6 $((2 * (228 + 46 + 148))) 4 $((2 * (88 + 148)))) $(flow $A6 2 $((2 * 148)) 2 $((2 * 164)))
tm status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; sys.exit(0 if d["paged"] == int(sys.argv[1]) + 7 and d["malformed"] == 0 else f"{d}")' "$paged_before" ||
	fail "with GRO off, not exactly the 7 frames were paged, or some were taken for malformed: $(tm status --json)"
pass
