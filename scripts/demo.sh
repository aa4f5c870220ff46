#!/usr/bin/env bash
# traffic_meter demo, as root on a fresh Debian/Ubuntu machine: installs
# what is missing, builds, and runs a small lab made of network namespaces
# only (nothing touches the host's own interfaces or routes):
#
#   c1 (198.18.30.11, 2001:db8:30::11) ─┐
#                                        br-lan ── router ── wan0 ── server
#   c2 (198.18.30.12, 2001:db8:30::12) ─┘  (LAN 198.18.30.1)    (198.19.30.2,
#                                                                 2001:db8:31::2)
# The router masquerades IPv4 towards the WAN and routes IPv6. traffic_meter
# is loaded on the router's two LAN bridge ports (not on the bridge, not on
# the WAN side), rules are added, a short bounded traffic mix runs, and the
# counters are printed; then live rates (`watch`, two refreshes) during a
# paced UDP stream, and one scrape of the Prometheus exporter (`serve`, on
# the router's loopback). Then the lab is removed (--keep keeps it).
#
# usage: scripts/demo.sh [--keep] [--no-build]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
keep=0 build=1
for a in "$@"; do
	case $a in
	--keep) keep=1 ;;
	--no-build) build=0 ;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo.sh: unknown option $a (see --help)" >&2
		exit 2
		;;
	esac
done
[[ $(id -u) == 0 ]] || {
	echo "demo.sh: run as root (it creates network namespaces and loads BPF programs)" >&2
	exit 1
}

if ((build)); then
	source "$root/scripts/deps.sh"
	install_deps
	[[ -d $root/builddir ]] || meson setup "$root/builddir" >/dev/null
	ninja -C "$root/builddir" >/dev/null
fi
export TM=${TM:-$root/builddir/traffic_meter}
KEEP=$keep
source "$root/tests/e2e/lib.sh"
lab_init demo
started=$SECONDS

step() { printf '\n== %s\n' "$*"; }

step "lab: c1, c2 -- br-lan -- router -- server (namespaces tme-demo-$$-*)"
ns_add c1 c2 r srv
veth c1 eth0 r lan1
veth c2 eth0 r lan2
veth srv eth0 r wan0
bridge_add r br-lan lan1 lan2
router r
addr r br-lan 198.18.30.1/24 2001:db8:30::1/64
addr r wan0 198.19.30.1/24 2001:db8:31::1/64
addr c1 eth0 198.18.30.11/24 2001:db8:30::11/64
addr c2 eth0 198.18.30.12/24 2001:db8:30::12/64
addr srv eth0 198.19.30.2/24 2001:db8:31::2/64
for c in c1 c2; do
	route $c default 198.18.30.1
	route $c default 2001:db8:30::1
done
route srv 2001:db8:30::/64 2001:db8:31::1
if command -v nft >/dev/null; then
	nsx r nft -f - <<'NFT'
table ip demo_nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
}
NFT
else
	route srv 198.18.30.0/24 198.19.30.1
fi

step "traffic_meter load on the LAN bridge ports, then add rules"
tm_ns r
tm load --dev lan1
tm load --dev lan2
tm add --ip-address 198.18.30.11 --ip-address 198.18.30.12 --ip-address 198.18.30.0/24 \
	--ip-address 0.0.0.0/0 --ip-address 2001:db8:30::/64
tm list

step "traffic: c1 downloads 20 MiB (TCP), c2 uploads 5 MiB, c1 sends 200 UDP datagrams, pings, IPv6"
wait_for 5 nsx c1 ping -c 1 -W 1 198.19.30.2 || fail "no connectivity from c1 to the server"
wait_for 5 nsx c2 ping -c 1 -W 1 2001:db8:31::2 || fail "no IPv6 connectivity from c2 to the server"
tcp_transfer c1 srv 198.19.30.2 5001 $((20 * 1024 * 1024)) 0
tcp_transfer c2 srv 198.19.30.2 5002 0 $((5 * 1024 * 1024))
udp_exchange c1 srv 198.19.30.2 5003 200 1000 64
tcp_transfer c2 srv 2001:db8:31::2 5004 $((4 * 1024 * 1024)) 0
ping_n c1 198.18.30.12 10 56     # c1 -> c2, bridged on the LAN
ping_n c2 198.18.30.1 10 56      # c2 -> the router's LAN address
ping_n c2 2001:db8:31::2 10 1000 # c2 -> server over IPv6

step "traffic_meter show -H"
tm show -H
step "traffic_meter show --json"
tm show --json
cat <<'EOF'

UPSTREAM is what the host that opened a flow sent, DOWNSTREAM what came back to it (c1's download is downstream, c2's upload upstream).
Each address counts once, in its most specific rule: the clients in their own, the router's LAN address in 198.18.30.0/24, the server in 0.0.0.0/0.
EOF
step "traffic_meter watch --count 2 (live rates while c1 streams 1000 UDP datagrams a second to the server)"
bg nsx srv "$PY" "$E2E_DIR/udp_sink.py" --bind 198.19.30.2 --port 5005 --count 4000 \
	--reply-size -1 --timeout 8 --ready-file "$LAB_WORK/stream.ready" >/dev/null
wait_for 5 test -e "$LAB_WORK/stream.ready" || fail "udp sink on the server did not start"
bg nsx c1 "$PY" "$E2E_DIR/udp_send.py" --dst 198.19.30.2 --port 5005 --count 4000 --size 1000 \
	--rate 1000 --timeout 6 >/dev/null
streamer=$BG_PID
sleep 0.5
tm watch --count 2 --interval 1
wait_pid "$streamer" 10 || true

step "traffic_meter serve: one scrape of /metrics (the exporter listens on the router's loopback)"
bg nsx r "$TM" --pin-path "$PIN" serve --listen 127.0.0.1:9464
wait_for 5 nsx r curl -sf http://127.0.0.1:9464/healthz || fail "the exporter did not start"
nsx r curl -s http://127.0.0.1:9464/metrics | grep -v '^# HELP'
cat <<'EOF'

Prometheus scrapes this page; per-rule rates for a dashboard, top 10 first:
  topk(10, sum by (rule, direction) (rate(traffic_meter_bytes_total[5m])) * 8)
EOF

step "done in $((SECONDS - started)) s"
if ((keep)); then
	echo "lab kept: enter with: nsenter --net=/run/netns/$(nsname r) $TM --pin-path $PIN show"
	echo "remove with: for n in ${LAB_NS[*]}; do ip netns del \$n; done; rm -rf $PIN"
fi
