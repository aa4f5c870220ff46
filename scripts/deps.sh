# shellcheck shell=bash
# install_deps: installs, with apt-get, the build and test dependencies that
# are missing (nothing when all are there; one `apt-get update` otherwise).
# Sourced by scripts/test.sh and scripts/demo.sh.
export DEBIAN_FRONTEND=noninteractive

packages=(g++ clang llvm libbpf-dev meson ninja-build pkg-config libcli11-dev nlohmann-json3-dev
	libfmt-dev libgtest-dev libgmock-dev libmnl-dev libcpp-httplib-dev iproute2 nftables iptables
	ethtool iperf3 socat python3 python3-scapy jq tcpdump util-linux procps iputils-ping
	qemu-system-x86 busybox-static cpio debian-archive-keyring
	prometheus scdoc tmux curl systemd man-db dpkg-dev debhelper fakeroot patch)

install_deps() {
	local missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	command -v bpftool >/dev/null || missing+=(bpftool)
	((${#missing[@]})) || return 0
	command -v apt-get >/dev/null || {
		echo "missing packages ${missing[*]} and no apt-get: install them by hand" >&2
		return 1
	}
	echo "installing: ${missing[*]}"
	apt-get update -qq </dev/null || echo "warning: apt-get update failed" >&2
	local installable=()
	for p in "${missing[@]}"; do
		if apt-cache show "$p" >/dev/null 2>&1; then
			installable+=("$p")
		elif [[ $p == bpftool ]] && apt-cache show "linux-tools-$(uname -r)" >/dev/null 2>&1; then
			installable+=("linux-tools-$(uname -r)" linux-tools-common) # Ubuntu
		else
			echo "warning: no package $p in this distribution" >&2
		fi
	done
	if ((${#installable[@]})); then
		# No package's service may start on the host (prometheus would listen
		# on the machine's :9090): the tests start their own, in namespaces.
		local policy=/usr/sbin/policy-rc.d made_policy=0
		if [[ ! -e $policy ]]; then
			printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
		fi
		apt-get install -y -qq --no-install-recommends "${installable[@]}" </dev/null
		local rc=$?
		((made_policy)) && rm -f "$policy"
		return $rc
	fi
}

