#!/bin/sh
# /init of the test VM (tests/kernels/run.sh): one veth pair, the peer end
# in a namespace, traffic_meter loaded with CAP_BPF and CAP_NET_ADMIN only.
# Every check prints "TMK PASS name" or "TMK FAIL name: why"; "TMK DONE"
# last, then the VM powers off.
# busybox runs its own applets before PATH: iproute2 and util-linux by path.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmpfs /run
mkdir -p /sys/fs/bpf /run/netns
mount -t bpf bpf /sys/fs/bpf
TM=$(cat /etc/tm_path)
PIN=/sys/fs/bpf/tm
echo "TMK KERNEL $(cat /proc/sys/kernel/osrelease), CPUs $(cat /sys/devices/system/cpu/online)"

check() { # NAME COMMAND...: runs it, PASS if it exits 0
	name=$1
	shift
	if out=$("$@" 2>&1); then
		echo "TMK PASS $name"
	else
		echo "TMK FAIL $name: $(echo "$out" | tail -n 3)"
	fi
}
lp() { # traffic_meter with CAP_BPF and CAP_NET_ADMIN only
	/usr/bin/setpriv --inh-caps=-all,+bpf,+net_admin --ambient-caps=-all,+bpf,+net_admin \
		--bounding-set=-all,+bpf,+net_admin "$TM" --pin-path "$PIN" "$@"
}

for m in /modules/*.ko; do insmod "$m"; done
/usr/bin/ip link set lo up
/usr/bin/ip link add v0 type veth peer name v1
/usr/bin/ip netns add peer
/usr/bin/ip link set v1 netns peer
/usr/bin/ip addr add 198.18.0.1/24 dev v0
/usr/bin/ip link set v0 up
/usr/bin/ip -n peer addr add 198.18.0.2/24 dev v1
/usr/bin/ip -n peer link set lo up
/usr/bin/ip -n peer link set v1 up

# Kernels before 5.11 charge maps to RLIMIT_MEMLOCK (64 KiB by default
# before 5.16): without CAP_SYS_RESOURCE the limit must be raised for the
# service (systemd: LimitMEMLOCK=infinity), or the refusal says so.
major=$(cut -d. -f1 /proc/sys/kernel/osrelease)
minor=$(cut -d. -f2 /proc/sys/kernel/osrelease)
if [ "$major" -eq 5 ] && [ "$minor" -lt 11 ]; then
	out=$(sh -c "ulimit -l 64; /usr/bin/setpriv --inh-caps=-all,+bpf,+net_admin --ambient-caps=-all,+bpf,+net_admin --bounding-set=-all,+bpf,+net_admin $TM --pin-path $PIN load --dev v0" 2>&1)
	case $out in
	*RLIMIT_MEMLOCK*) echo "TMK PASS memlock-refusal-explained" ;;
	*) echo "TMK FAIL memlock-refusal-explained: $out" ;;
	esac
	check purge-after-refusal "$TM" --pin-path "$PIN" purge
fi
ulimit -l unlimited

check load-least-privilege lp load --dev v0
if ! lp status >/dev/null 2>&1; then # the verifier's reasons, for the log
	lp -v load --dev v0 2>&1 | tail -n 40 | sed 's/^/TMK LOG /'
fi
out=$(lp status 2>&1)
case $out in
*"tc clsact (netlink)"*) echo "TMK PASS falls-back-to-tc-filters" ;;
*tcx*) echo "TMK PASS attaches-with-tcx" ;;
*) echo "TMK FAIL attach-mode: $out" ;;
esac
check add lp add --ip-address 198.18.0.2 --ip-address 198.18.0.0/24
check ping ping -c 3 -s 100 -W 2 198.18.0.2
got=$(lp show --csv | grep '^198.18.0.2/32' | cut -d, -f3-)
if [ "$got" = "384,3,384,3" ]; then echo "TMK PASS counts-a-ping"; else echo "TMK FAIL counts-a-ping: $got"; fi
check status lp status
check reload-in-place lp load --dev v0
check ping-again ping -c 1 -s 100 -W 2 198.18.0.2
got=$(lp show --csv | grep '^198.18.0.2/32' | cut -d, -f3-)
if [ "$got" = "512,4,512,4" ]; then echo "TMK PASS counts-after-reload"; else echo "TMK FAIL counts-after-reload: $got"; fi
# Headroom: what the verifier processes for each Ethernet entry point,
# without CAP_PERFMON (as the unit loads them), at most half its 1,000,000
# (bench/verifier_cost prints "| name | root | least privilege |"). A build
# this kernel refuses for a missing feature is not the one `load` takes;
# one refused as too complex, or over the half, fails.
if [ -f /etc/tm_verifier_cost ]; then
	table=$($(cat /etc/tm_verifier_cost) _eth 2>&1)
	# One "name=figure" a program (the figure's spaces made _), read once
	# for the verdict and the message.
	rows=$(echo "$table" | sed -n 's/^| \(tm_[a-z_]*\) | [^|]* | \([^|]*\) |$/\1=\2/p' | sed 's/ /_/g')
	within=0 over=""
	for r in $rows; do
		n=${r#*=}
		case $n in
		E2BIG*) over="$over $r" ;;
		*[!0-9]*) ;;
		*) if [ "$n" -le 500000 ]; then within=$((within + 1)); else over="$over $r"; fi ;;
		esac
	done
	if [ -z "$over" ] && [ "$within" -ge 2 ]; then
		echo "TMK PASS verifier-headroom ($(echo $rows))"
	else
		echo "TMK FAIL verifier-headroom (over half or too complex:${over:- none}; $within within): $(echo "$table" | tr '\n' ' ')"
	fi
fi
check unload lp unload --dev v0
check purge lp purge
# The data plane's own suite (tests/dataplane: BPF_PROG_TEST_RUN, as root)
# on this kernel's verifier, helpers and maps, both vCPUs at once included.
# 5.10's BPF_PROG_TEST_RUN refuses with EINVAL an skb context that sets
# ingress_ifindex (the egress cases that name the interface a packet came
# in by, and the random sequences) and some frames 6.1 takes (Robustness's
# random and truncated ones): those cases run on 6.1 and later only.
if [ -f /etc/tm_dataplane ]; then
	filter='*'
	if [ "$major" -eq 5 ] && [ "$minor" -lt 11 ]; then
		filter='-Differential.*:Robustness.*:*/egress_from_*:*/egress_roles_per_interface:*/ingress_ignores_ingress_ifindex:*/l3_egress_from_attached_skipped'
	fi
	out=$($(cat /etc/tm_dataplane) --gtest_brief=1 "--gtest_filter=$filter" 2>&1)
	ran=$(echo "$out" | sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p')
	if [ -n "$ran" ] && [ "$ran" -gt 0 ] && echo "$out" | grep -q "^\[  PASSED  \] $ran test" &&
		! echo "$out" | grep -q "FAILED"; then
		echo "TMK PASS dataplane-suite ($ran tests)"
	else
		echo "TMK FAIL dataplane-suite: $(echo "$out" | grep -E 'FAILED|Failure|exception|Which is' | head -n 30 | tr '\n' ' ')"
	fi
fi
if [ -f /etc/tm_bench ]; then # bench/kernel_bench.sh, as root
	$(cat /etc/tm_bench) 2>&1 | sed 's/^/TMK BENCH /'
fi
echo "TMK DONE"
poweroff -f
