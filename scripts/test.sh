#!/usr/bin/env bash
# Full test run from a fresh checkout, as root: installs what is missing
# (Debian/Ubuntu, apt-get), builds from scratch in builddir-test, runs the
# Meson suites (unit, dataplane, cli) and the end-to-end suite, and ends
# with one line "N passed, N failed". A skipped test is not a pass: skips
# are listed by name and counted as failed. Exit status 0 only when at
# least one test ran and none failed or was skipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-builddir-test}
export DEBIAN_FRONTEND=noninteractive

packages=(clang llvm libbpf-dev meson ninja-build pkg-config libcli11-dev nlohmann-json3-dev
	libfmt-dev libgtest-dev libgmock-dev libmnl-dev libcpp-httplib-dev iproute2 nftables iptables
	ethtool iperf3 socat python3 python3-scapy jq tcpdump util-linux procps iputils-ping)

install_deps() {
	local missing=() p updated=0
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
	apt-get update -qq </dev/null && updated=1
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
	((updated)) && ((${#installable[@]})) &&
		apt-get install -y -qq --no-install-recommends "${installable[@]}" </dev/null
}

[[ $(id -u) == 0 ]] || echo "warning: not root: tests that need root will be skipped" >&2
install_deps

rm -rf "$build"
meson setup "$build" >/dev/null
ninja -C "$build"

passed=0 failed=0
not_passed=()

# Meson suites; results come from testlog.json, not from the console text.
set +e
meson test -C "$build" --print-errorlogs </dev/null
set -e
testlog=$build/meson-logs/testlog.json
if [[ -s $testlog ]]; then
	while IFS=$'\t' read -r result name; do
		case $result in
		OK | EXPECTEDFAIL) passed=$((passed + 1)) ;;
		SKIP)
			failed=$((failed + 1))
			not_passed+=("skipped: $name")
			;;
		*)
			failed=$((failed + 1))
			not_passed+=("${result,,}: $name")
			;;
		esac
	done < <(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        t = json.loads(line)
        print(t["result"], t["name"], sep="\t")' "$testlog")
fi

# End-to-end suite.
e2e_out=$(mktemp)
trap 'rm -f "$e2e_out"' EXIT
set +e
TM=$root/$build/traffic_meter bash tests/e2e/run.sh </dev/null | tee "$e2e_out"
set -e
while read -r word name rest; do
	case $word in
	PASS) passed=$((passed + 1)) ;;
	FAIL)
		failed=$((failed + 1))
		not_passed+=("fail: e2e/$name")
		;;
	SKIP)
		failed=$((failed + 1))
		not_passed+=("skipped: e2e/${name%:} ${rest}")
		;;
	esac
done <"$e2e_out"

echo
for n in "${not_passed[@]}"; do
	echo "  not passed: $n"
done
echo "$passed passed, $failed failed"
((passed > 0 && failed == 0))
