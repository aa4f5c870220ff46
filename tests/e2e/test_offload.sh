#!/usr/bin/env bash
# The same TCP transfers with TSO/GSO/GRO on and off give the same figures
# (within 1%) for the data direction: a GSO/GRO aggregate counts as the
# wire packets it stands for. Measured on a host interface (egress sees
# TSO/GSO aggregates, ingress GRO ones) and on a router's two attached
# ports (forwarded GRO aggregates), IPv4 and IPv6.
# $(flow ...) expands to several checks: the word splitting is wanted.
# shellcheck disable=SC2046 source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init offload
command -v ethtool >/dev/null || skip "ethtool missing"

ns_add c r s
veth c c0 r r0
veth s s0 r r1
router r
addr c c0 198.18.16.2/24 2001:db8:16::2/64
addr r r0 198.18.16.1/24 2001:db8:16::1/64
addr r r1 198.18.17.1/24 2001:db8:17::1/64
addr s s0 198.18.17.2/24 2001:db8:17::2/64
route c default 198.18.16.1
route c default 2001:db8:16::1
route s default 198.18.17.1
route s default 2001:db8:17::1
static_neigh c c0 r r0
static_neigh s s0 r r1
for h in c s; do nsx $h sysctl -qw net.ipv4.tcp_timestamps=1; done

RULES=(--ip-address 198.18.16.2 --ip-address 2001:db8:16::2)
# two meters: the router (its pin path) and the client host (its own)
ROUTER_PIN=$PIN HOST_PIN=$PIN-host
tm_ns c "$HOST_PIN"
tm load --dev c0
tm add "${RULES[@]}"
tm_ns r "$ROUTER_PIN"
tm load --dev r0
tm load --dev r1
tm add "${RULES[@]}"

offloads() {
	local h d
	for h_d in c:c0 r:r0 r:r1 s:s0; do
		h=${h_d%%:*} d=${h_d#*:}
		nsx "$h" ethtool -K "$d" tso "$1" gso "$1" gro "$1" 2>/dev/null ||
			nsx "$h" ethtool -K "$d" gso "$1" gro "$1"
	done
}

# read_both RULE: counters of RULE at the host meter, then at the router's
read_both() {
	local saved_pin=$PIN
	PIN=$HOST_PIN TM_NS=c counters "$1"
	PIN=$ROUTER_PIN TM_NS=r counters "$1"
	PIN=$saved_pin
}

DOWN=$((8 * 1024 * 1024)) UP=$((4 * 1024 * 1024))
declare -A result
port=12000

# transfer DIR FAMILY: one bulk transfer; prints the data direction's
# "host_bytes host_packets router_bytes router_packets retrans_segs
# retrans_bytes". A run with retransmissions (a CPU-starved veth drops
# packets) is repeated, up to 4 times: retransmitted segments are on the
# wire and counted, so they would blur the comparison.
transfer() {
	local dir=$1 fam=$2 C sip b a try
	if [[ $fam == 4 ]]; then C=198.18.16.2/32 sip=198.18.17.2; else C=2001:db8:16::2/128 sip=2001:db8:17::2; fi
	for try in 1 2 3 4; do
		read -ra b <<<"$(read_both $C | tr '\n' ' ')"
		port=$((port + 1))
		if [[ $dir == down ]]; then
			tcp_transfer c s "$sip" $port $DOWN 0
		else
			tcp_transfer c s "$sip" $port 0 $UP
		fi
		read -ra a <<<"$(read_both $C | tr '\n' ' ')"
		((TCP_RETRANS_SEGS > 0)) || break
		log "IPv$fam ${dir}load, try $try: retransmissions; again"
	done
	# fields: host up_b up_p down_b down_p, router up_b up_p down_b down_p
	if [[ $dir == down ]]; then
		echo $((a[2] - b[2])) $((a[3] - b[3])) $((a[6] - b[6])) $((a[7] - b[7])) \
			"$TCP_RETRANS_SEGS" "$TCP_RETRANS_BYTES"
	else
		echo $((a[0] - b[0])) $((a[1] - b[1])) $((a[4] - b[4])) $((a[5] - b[5])) \
			"$TCP_RETRANS_SEGS" "$TCP_RETRANS_BYTES"
	fi
}

for mode in on off; do
	offloads $mode
	for fam in 4 6; do
		for dir in down up; do
			result[$mode.$fam.$dir]=$(transfer $dir $fam)
			log "offloads $mode, IPv$fam ${dir}load data direction: host B/p, router B/p, retransmitted segs/B: ${result[$mode.$fam.$dir]}"
		done
	done
done

# Only the data direction is compared: the ACK stream is not invariant
# (with GRO the receiver sends stretch ACKs). Bytes must agree within 1%
# (plus what retransmissions add, if no clean run was had). Packet counts
# legitimately differ a little (without GSO the sender cuts a short
# segment at some write boundaries), so each run's packets are checked
# against its bytes instead: with TCP timestamps every packet of the data
# direction carries exactly HDR header bytes (52 IPv4, 72 IPv6) but the
# SYN (8 more), so bytes - payload - retransmitted = packets * HDR (+8).
# A meter that counted an aggregate as one packet, or its headers once,
# misses this by thousands of bytes.
bad=0
for fam in 4 6; do
	hdr=$((fam == 4 ? 52 : 72))
	for dir in down up; do
		[[ $dir == down ]] && payload=$DOWN || payload=$UP
		read -ra on <<<"${result[on.$fam.$dir]}"
		read -ra off <<<"${result[off.$fam.$dir]}"
		for i in 0 2; do
			where=$([[ $i == 0 ]] && echo host || echo router)
			x=${on[i]} y=${off[i]}
			d=$((x > y ? x - y : y - x)) m=$((x > y ? x : y))
			slack=$((on[5] + off[5] + 100 * (on[4] + off[4])))
			if ((d * 100 > m + slack * 100)); then
				log "IPv$fam ${dir}load $where bytes: offloads on $x vs off $y differ by more than 1%"
				bad=1
			fi
			for mode in on off; do
				read -ra r <<<"${result[$mode.$fam.$dir]}"
				resid=$((r[i] - payload - r[5] - r[i + 1] * hdr))
				if ((resid < 0 || resid > 64 + 40 * r[4])); then
					log "IPv$fam ${dir}load $where, offloads $mode: ${r[i + 1]} packets for ${r[i]} bytes:" \
						"$resid bytes unaccounted for (expected 8)"
					bad=1
				fi
			done
		done
	done
done
((bad == 0)) || fail "figures depend on offloads"
pass
