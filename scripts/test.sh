#!/usr/bin/env bash
# Full test run from a fresh checkout, as root: installs what is missing
# (Debian/Ubuntu, apt-get), builds from scratch in builddir-test, runs the
# Meson suites (unit, dataplane, cli), the end-to-end suite, older kernels
# under qemu and the Debian package, and ends with one line "N passed,
# N failed". A skipped test is not a pass: skips are listed by name and
# counted as failed. Exit status 0 only when at least one test ran and none
# failed or was skipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-builddir-test}

source "$root/scripts/deps.sh"

[[ $(id -u) == 0 ]] || echo "warning: not root: tests that need root will be skipped" >&2
install_deps || echo "warning: could not install every dependency; trying anyway" >&2

rm -rf "$build"
if ! meson setup "$build" >/dev/null || ! ninja -C "$build"; then
	echo "  not passed: build"
	echo "0 passed, 1 failed"
	exit 1
fi
# The earlier releases (ABI 1 to 5) whose state the upgrade tests
# carry over (built from this clone's history; a failure shows in those
# tests).
TM_PREVIOUS_BIN=$(scripts/build_previous.sh "$root/$build/previous") || TM_PREVIOUS_BIN=
TM_ABI2_BIN=$(scripts/build_previous.sh "$root/$build/previous_abi2" previous_release_abi2) || TM_ABI2_BIN=
TM_ABI3_BIN=$(scripts/build_previous.sh "$root/$build/previous_abi3" previous_release_abi3) || TM_ABI3_BIN=
TM_ABI4_BIN=$(scripts/build_previous.sh "$root/$build/previous_abi4" previous_release_abi4) || TM_ABI4_BIN=
TM_ABI5_BIN=$(scripts/build_previous.sh "$root/$build/previous_abi5" previous_release_abi5) || TM_ABI5_BIN=
export TM_PREVIOUS_BIN TM_ABI2_BIN TM_ABI3_BIN TM_ABI4_BIN TM_ABI5_BIN

passed=0 failed=0
not_passed=()

# Meson suites; results come from testlog.json, not from the console text.
set +e
meson test -C "$build" --print-errorlogs </dev/null
set -e
testlog=$build/meson-logs/testlog.json
# Each Meson test is a runner of many cases (GoogleTest, the CLI runner):
# count the cases from its output; a runner that died without saying so
# counts as one failure.
if [[ -s $testlog ]]; then
	while IFS=$'\t' read -r result name cases_ok cases_bad; do
		passed=$((passed + cases_ok))
		failed=$((failed + cases_bad))
		case $result in
		OK | EXPECTEDFAIL) ;;
		SKIP)
			failed=$((failed + 1))
			not_passed+=("skipped: $name")
			;;
		*)
			((cases_bad > 0)) || failed=$((failed + 1))
			not_passed+=("${result,,}: $name ($cases_bad cases failed)")
			;;
		esac
	done < <(/usr/bin/python3 -c '
import json, re, sys
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    t = json.loads(line)
    out = t.get("stdout") or ""
    ok = bad = None
    m = re.search(r"^\[  PASSED  \] (\d+) tests?", out, re.M)
    if m:  # GoogleTest
        ok = int(m.group(1))
        m = re.search(r"^\[  FAILED  \] (\d+) tests?", out, re.M)
        bad = int(m.group(1)) if m else 0
        m = re.search(r"^\[  SKIPPED \] (\d+) tests?", out, re.M)
        bad += int(m.group(1)) if m else 0  # a skipped case is not a pass
    else:  # a runner that ends with "N passed, N failed"
        m = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
        if m:
            ok, bad = map(int, m[-1])
    if ok is None:
        ok, bad = (1, 0) if t["result"] in ("OK", "EXPECTEDFAIL") else (0, 0)
    print(t["result"], t["name"], ok, bad, sep="\t")' "$testlog")
fi

# Runners that print "PASS name", "FAIL name" or "SKIP name: why" per case:
# end-to-end (tests/e2e), older kernels under qemu (tests/kernels), the
# Debian package (tests/packaging). A runner that printed no case at all
# counts as one failure.
run_cases() { # LABEL COMMAND...
	local label=$1 out word name rest cases=0
	shift
	out=$(mktemp)
	set +e
	"$@" </dev/null | tee "$out"
	set -e
	while read -r word name rest; do
		case $word in
		PASS) passed=$((passed + 1)) cases=$((cases + 1)) ;;
		FAIL)
			failed=$((failed + 1)) cases=$((cases + 1))
			not_passed+=("fail: $label/$name")
			;;
		SKIP)
			failed=$((failed + 1)) cases=$((cases + 1))
			not_passed+=("skipped: $label/${name%:} ${rest}")
			;;
		esac
	done <"$out"
	rm -f "$out"
	((cases > 0)) || { failed=$((failed + 1)) && not_passed+=("no result: $label"); }
}
run_cases e2e env TM="$root/$build/traffic_meter" bash tests/e2e/run.sh
TM_VERIFIER_COST="$root/$build/bench/verifier_cost $root/$build/bpf/traffic_meter.bpf.o" \
	TM_VM_DATAPLANE="$root/$build/tests/dataplane/dataplane_tests" \
	run_cases kernels bash tests/kernels/run.sh "$root/$build/traffic_meter"
run_cases packaging bash tests/packaging/run.sh "$root/$build"

echo
for n in "${not_passed[@]}"; do
	echo "  not passed: $n"
done
echo "$passed passed, $failed failed"
((passed > 0 && failed == 0))
