#!/usr/bin/env bash
# Builds an earlier release of traffic_meter from this repository's history
# into DIR, for the tests that upgrade its state, and prints the binary's
# path. RELEASE names the file under tests/cli/ that holds its commit:
# previous_release (the last release with ABI 1, the default),
# previous_release_abi2 (the last with ABI 2), previous_release_abi3 (the
# last with ABI 3), previous_release_abi4 (the last with ABI 4) or
# previous_release_abi5 (the last with ABI 5).
#   scripts/build_previous.sh DIR [RELEASE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: $0 DIR [RELEASE]}
rev=$(cat "$root/tests/cli/${2:-previous_release}")
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
