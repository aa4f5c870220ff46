#!/usr/bin/env bash
# A guest's TSO and USO aggregates through a tap device with a virtio-net
# header (what KVM hosts see): the kernel leaves gso_segs 0 until it
# segments them, after our hook; each counts as the wire packets it stands
# for, from gso_size, each with its own headers (SPEC §3).
#   TCP/IPv4 10000 B in 1000 B segments: 10 packets, 10 x 40 + 10000 bytes
#   TCP/IPv6 5000 B in 1400 B segments:  4 packets,  4 x 60 + 5000 bytes
#   UDP/IPv4 6000 B in 1000 B segments:  6 packets,  6 x 28 + 6000 bytes
# The destination is not local and forwarding is off: nothing goes back.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init taptso
[[ -c /dev/net/tun ]] || skip "/dev/net/tun missing"

ns_add h
nsx h ip tuntap add dev tp0 mode tap vnet_hdr
nsx h ip link set tp0 address 02:00:00:00:40:01 up
addr h tp0 198.18.40.1/24 2001:db8:40::1/64
tm_ns h
tm load --dev tp0
G4=198.18.40.2/32 G6=2001:db8:40::2/128
tm add --ip-address $G4 --ip-address $G6
nsx h sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
"$PY" "$E2E_DIR/tap_inject.py" "$(nsname h)" tp0 tso --src4 198.18.40.2 --dst4 198.18.41.5 \
	--src6 2001:db8:40::2 --dst6 2001:db8:41::5 || fail "tap_inject tso"
expect $(flow $G4 $((10 + 6)) $((10 * 40 + 10000 + 6 * 28 + 6000)) 0 0) \
	$(flow $G6 4 $((4 * 60 + 5000)) 0 0)
tm status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; sys.exit(0 if d["gso_from_size"] == 3 else f"gso_from_size {d}")' ||
	fail "the three aggregates were not counted from gso_size"
pass
