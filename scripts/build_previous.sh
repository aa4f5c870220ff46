#!/usr/bin/env bash
# Builds the previous release of traffic_meter (the last one with ABI 1,
# tests/cli/previous_release) from this repository's history into DIR, for
# the test that upgrades its state. Prints the binary's path.
#   scripts/build_previous.sh DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: $0 DIR}
rev=$(cat "$root/tests/cli/previous_release")
bin=$dir/build/traffic_meter
if [[ -x $bin && $(cat "$dir/rev" 2>/dev/null) == "$rev" ]]; then
	echo "$bin"
	exit 0
fi
git -C "$root" cat-file -e "$rev^{commit}" 2>/dev/null || {
	echo "build_previous: commit $rev is not in this clone's history (fetch it: git fetch --unshallow)" >&2
	exit 1
}
rm -rf "$dir" && mkdir -p "$dir/src"
git -C "$root" archive "$rev" | tar -x -C "$dir/src"
meson setup "$dir/build" "$dir/src" >/dev/null
ninja -C "$dir/build" traffic_meter >/dev/null
echo "$rev" >"$dir/rev"
echo "$bin"
