#!/usr/bin/env bash
# Packaging and integration: the Debian package builds from this tree
# (dpkg-buildpackage -b -us -uc), and what it installs works from a scratch
# root: the binary, the man page, bash completion; the systemd unit passes
# systemd-analyze verify. Prints "PASS name" / "FAIL name" per check, then
# "packaging: N passed, N failed".
#   tests/packaging/run.sh BUILD_DIR
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:?usage: $0 BUILD_DIR}")
work=$(mktemp -d /tmp/tm-packaging.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # NAME COMMAND...
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/    | /'
		failed=$((failed + 1))
	fi
}

# The unit as installed, pointed at the built binary (verify checks that
# every command exists and is executable).
verify_unit() {
	sed "s|/usr/local/sbin/traffic_meter|$build/traffic_meter|g" "$build/dist/traffic_meter.service" \
		>"$work/traffic_meter.service"
	systemd-analyze verify --man=no "$work/traffic_meter.service"
}
check unit-verifies verify_unit

build_package() {
	mkdir -p "$work/src"
	(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src")
	(cd "$work/src" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
		{ tail -n 30 "$work/build.log"; return 1; }
	ls "$work"/traffic-meter_*.deb >/dev/null
}
check package-builds build_package

install_package() {
	dpkg-deb -x "$work"/traffic-meter_*.deb "$work/rootfs" &&
		test -x "$work/rootfs/usr/sbin/traffic_meter" &&
		test -f "$work/rootfs/usr/share/bash-completion/completions/traffic_meter" &&
		test -f "$work/rootfs/usr/lib/systemd/system/traffic_meter.service" &&
		test -f "$work/rootfs/usr/share/doc/traffic-meter/config.example.json" ||
		test -f "$work/rootfs/usr/share/doc/traffic_meter/config.example.json"
}
check package-installs install_package
check installed-binary-runs sh -c "'$work/rootfs/usr/sbin/traffic_meter' --version | grep -q 'traffic_meter 0.2.0'"
check installed-man-page sh -c "man -l '$(ls "$work"/rootfs/usr/share/man/man8/traffic_meter.8* 2>/dev/null | head -1)' | grep -q 'traffic_meter - count traffic'"
check installed-unit-names-sbin grep -q 'ExecStart=/usr/sbin/traffic_meter serve' "$work/rootfs/usr/lib/systemd/system/traffic_meter.service"
# Completion as a shell gives it: COMP_WORDS/COMP_CWORD in, COMPREPLY out.
complete_words() { # WORD... (the last one is being completed)
	local words=$(printf '%q ' "$@")
	bash -c "source '$work/rootfs/usr/share/bash-completion/completions/traffic_meter'
		COMP_WORDS=($words); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); _traffic_meter
		printf '%s\n' \"\${COMPREPLY[@]}\""
}
completion_commands() { complete_words traffic_meter '' | grep -qx serve && complete_words traffic_meter re | sort | tr '\n' ' ' | grep -qx 'reset restore '; }
completion_dev_names() { complete_words traffic_meter load --dev l | grep -qx lo; }
# The options offered are exactly those the command accepts: each offered
# one is in its --help or the global --help, each in its --help is offered.
completion_options_match_help() {
	local cmd opt help offered
	local global=$("$build/traffic_meter" --help)
	for cmd in load unload purge add del import export list show stats reset status watch serve save restore apply; do
		help=$("$build/traffic_meter" "$cmd" --help)
		offered=$(complete_words traffic_meter "$cmd" --)
		for opt in $offered; do
			printf '%s\n%s\n' "$help" "$global" | grep -q -- "$opt" ||
				{ echo "$cmd offers $opt, which no --help names"; return 1; }
		done
		for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$help" | sort -u); do
			grep -qx -- "$opt" <<<"$offered" || { echo "$cmd accepts $opt, which is not offered"; return 1; }
		done
	done
}
check completion-commands completion_commands
check completion-dev-names completion_dev_names
check completion-options-match-help completion_options_match_help
echo "packaging: $passed passed, $failed failed"
((passed > 0 && failed == 0))
