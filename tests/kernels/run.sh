#!/usr/bin/env bash
# The data plane on older kernels: boots Debian's 5.10 (bullseye) and 6.1
# (bookworm) kernels under qemu (TCG by default: see TM_VM_ACCEL) with an initramfs
# that holds the built traffic_meter, iproute2, setpriv and busybox, and in
# there loads the object with the CLI on a veth, counts a ping, and checks
# the fallback from TCX to tc filters (no TCX before 6.6) and least
# privilege (CAP_BPF and CAP_NET_ADMIN only).
#   tests/kernels/run.sh TRAFFIC_METER [KERNEL...]    (default: 5.10 6.1)
# TM_VM_ACCEL picks qemu's accelerator: tcg (the default: emulation, which
# boots anywhere), kvm (hardware speed, for bench/kernel_bench.sh's figures;
# refused with the reason where it cannot boot these kernels), or auto (kvm
# where it can, else tcg; says which).
# Prints "PASS kernel-VERSION (secs)" or "FAIL ..." per kernel, then
# "kernels: N passed, N failed". The kernel packages come from Debian's
# mirror through private apt lists (the system's sources are untouched) and
# are kept in $TM_KERNEL_CACHE (default /var/cache/traffic_meter-tests).
# TM_VERIFIER_COST="VERIFIER_COST BPF_O" (scripts/test.sh sets it) adds a
# check that every Ethernet entry point the kernel verifies leaves the
# verifier half its budget without CAP_PERFMON (bench/verifier_cost; stop
# 29: 6.1 had used 752k of its 1M).
# TM_VM_DATAPLANE=DATAPLANE_TESTS (scripts/test.sh sets it) adds a check
# that the data plane's suite (tests/dataplane) passes in the VM, as root,
# on both vCPUs; on 5.10 without the cases its BPF_PROG_TEST_RUN cannot run
# (vm_init.sh says which).
# TM_VM_BENCH="DP_BENCH EMPTY_BPF_O [ARGS...]" also runs that benchmark in
# the VM after the checks (bench/kernel_bench.sh); its output lines are
# printed after the verdict. Arguments that name files (--object X.o) are
# copied in at the same paths.
set -uo pipefail

# Why this host's /dev/kvm cannot boot Debian's kernels, or nothing (status
# 1) when it can. A /dev/kvm backed by PVM (kvm_pvm: nested virtualization
# by page tables, for cloud guests that have no VT-x or AMD-V) runs only
# kernels built as PVM guests: Debian's hang before their first console
# line (docs/BENCHMARKS.md, "Stop 36").
kvm_unusable() {
	if [[ ! -w /dev/kvm ]]; then
		echo "no usable /dev/kvm on this host"
	elif [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
		return 1
	elif [[ -d /sys/module/kvm_pvm ]]; then
		echo "this host's /dev/kvm is PVM (kvm_pvm), which boots only kernels built as PVM guests, and Debian's are not"
	else
		echo "this host's /dev/kvm has no VT-x or AMD-V behind it (neither kvm_intel nor kvm_amd)"
	fi
}

accel=${TM_VM_ACCEL:-tcg}
case $accel in
tcg) ;;
kvm)
	if why=$(kvm_unusable); then
		echo "tests/kernels/run.sh: TM_VM_ACCEL=kvm: $why; use TM_VM_ACCEL=tcg" >&2
		exit 2
	fi
	;;
auto)
	if why=$(kvm_unusable); then
		accel=tcg
		echo "qemu accelerator: tcg ($why)"
	else
		accel=kvm
		echo "qemu accelerator: kvm"
	fi
	;;
*)
	echo "tests/kernels/run.sh: TM_VM_ACCEL must be tcg, kvm or auto, not '$accel'" >&2
	exit 2
	;;
esac
accel_opts=(-accel "$accel")
[[ $accel == tcg ]] || accel_opts+=(-cpu host) # the host's CPU, as the benchmark on this kernel sees it

tm=$(realpath "${1:?usage: $0 TRAFFIC_METER [KERNEL...]}")
shift
kernels=("$@")
((${#kernels[@]})) || kernels=(5.10 6.1)
cache=${TM_KERNEL_CACHE:-/var/cache/traffic_meter-tests}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tm-kernels.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

suite_of() { case $1 in 5.10) echo bullseye ;; 6.1) echo bookworm ;; *) return 1 ;; esac; }

apt_opts=(-o "Dir::Etc::SourceList=$cache/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
	-o Dir::State::Status=/var/lib/dpkg/status -o APT::Sandbox::User=root)

# fetch_kernel VERSION: unpacks Debian's linux-image of that series into
# $cache/VERSION (vmlinuz and modules), once.
fetch_kernel() {
	local v=$1 dir=$cache/$1 suite pkg
	[[ -e $dir/done ]] && return 0
	suite=$(suite_of "$v") || return 1
	mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
	cat >"$cache/apt/sources.list" <<-SRC
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
	SRC
	apt-get "${apt_opts[@]}" update -qq >/dev/null || return 1
	pkg=$(apt-cache "${apt_opts[@]}" show "linux-image-amd64" 2>/dev/null |
		awk -v s="$v" '/^Depends:/ && $2 ~ "linux-image-"s"\\." {print $2; exit}')
	[[ -n $pkg ]] || { echo "no linux-image-amd64 of $v on the mirror" >&2; return 1; }
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$dir" && apt-get "${apt_opts[@]}" download "$pkg" >/dev/null 2>&1) || return 1
	dpkg-deb -x "$dir"/*.deb "$dir/root" && rm -f "$dir"/*.deb
	touch "$dir/done"
}

# copy_with_libs ROOT BINARY...: binaries and the shared libraries they need.
copy_with_libs() {
	local root=$1 b lib
	shift
	for b in "$@"; do
		mkdir -p "$root$(dirname "$b")"
		cp -L "$b" "$root$b"
		for lib in $(ldd "$b" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -Ln "$lib" "$root$lib" 2>/dev/null || true
		done
	done
}

build_initramfs() {
	local v=$1 root=$work/root-$1 kroot=$cache/$1/root kver mod
	kver=$(ls "$kroot/lib/modules")
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,run,tmp,modules,etc}
	cp /bin/busybox "$root/bin/busybox"
	for t in sh mount mkdir insmod ping poweroff cat echo grep sed sleep ulimit tr cut; do
		ln -sf busybox "$root/bin/$t"
	done
	copy_with_libs "$root" "$tm" /usr/bin/ip /usr/bin/setpriv
	if [[ -n ${TM_VERIFIER_COST:-} ]]; then
		read -ra cost <<<"$TM_VERIFIER_COST"
		copy_with_libs "$root" "$(realpath "${cost[0]}")"
		cp "${cost[1]}" "$root/etc/traffic_meter.bpf.o"
		echo "$(realpath "${cost[0]}") /etc/traffic_meter.bpf.o" >"$root/etc/tm_verifier_cost"
	fi
	if [[ -n ${TM_VM_DATAPLANE:-} ]]; then
		copy_with_libs "$root" "$(realpath "$TM_VM_DATAPLANE")"
		echo "$(realpath "$TM_VM_DATAPLANE")" >"$root/etc/tm_dataplane"
	fi
	if [[ -n ${TM_VM_BENCH:-} ]]; then
		read -ra bench <<<"$TM_VM_BENCH"
		copy_with_libs "$root" "$(realpath "${bench[0]}")"
		# Every argument that names a file (the empty program, and an
		# --object / --base-object for an A/B) goes in at its own path.
		line=$(realpath "${bench[0]}")
		for arg in "${bench[@]:1}"; do
			if [[ -f $arg ]]; then
				arg=$(realpath "$arg")
				mkdir -p "$root$(dirname "$arg")"
				cp "$arg" "$root$arg"
			fi
			line+=" $arg"
		done
		echo "$line" >"$root/etc/tm_bench"
	fi
	for mod in drivers/net/veth net/sched/sch_ingress net/sched/cls_bpf; do
		cp "$kroot/lib/modules/$kver/kernel/$mod.ko" "$root/modules/"
	done
	cp "$here/vm_init.sh" "$root/init"
	chmod +x "$root/init"
	echo "$tm" >"$root/etc/tm_path"
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd-$v.gz"
	cp "$cache/$v/root/boot/vmlinuz-$kver" "$work/vmlinuz-$v"
}

passed=0 failed=0
for v in "${kernels[@]}"; do
	start=$SECONDS
	if ! fetch_kernel "$v" || ! build_initramfs "$v"; then
		echo "FAIL kernel-$v (could not get or pack the kernel)"
		failed=$((failed + 1))
		continue
	fi
	log=$work/console-$v.log
	limit=240 mem=1024
	[[ -z ${TM_VM_DATAPLANE:-} ]] || limit=1200 # the suite: about 4 min on 6.1 under TCG
	[[ -z ${TM_VM_BENCH:-} ]] || limit=1800 mem=3072
	timeout --kill-after=5 $limit qemu-system-x86_64 "${accel_opts[@]}" -m $mem -smp 2 -nographic -no-reboot \
		-kernel "$work/vmlinuz-$v" -initrd "$work/initrd-$v.gz" \
		-append "console=ttyS0 panic=-1 quiet TM=$tm" </dev/null >"$log" 2>&1
	if grep -q "^TMK DONE" "$log" && ! grep -q "^TMK FAIL" "$log"; then
		echo "PASS kernel-$v ($((SECONDS - start))s): $(grep -c '^TMK PASS' "$log") checks, $(grep -o 'TMK KERNEL .*' "$log" | head -1 | cut -d' ' -f3-)"
		passed=$((passed + 1))
		grep "^TMK PASS dataplane-suite" "$log" | sed 's/^TMK PASS /    /'
		grep "^TMK BENCH" "$log" | cut -c11-
	else
		echo "FAIL kernel-$v ($((SECONDS - start))s)"
		grep -E "^TMK|traffic_meter:" "$log" | sed 's/^/    | /' | tail -n 80
		grep -q "^TMK" "$log" || tail -n 30 "$log" | sed 's/^/    | /'
		failed=$((failed + 1))
	fi
done
echo "kernels: $passed passed, $failed failed"
((passed > 0 && failed == 0))
