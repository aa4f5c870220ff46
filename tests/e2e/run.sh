#!/usr/bin/env bash
# Runs the end-to-end tests (all tests/e2e/test_*.sh, or the ones named on
# the command line) one after another and prints one line per test:
#   PASS name (secs) | FAIL name (secs) | SKIP name: reason
# then "e2e: N passed, N failed, N skipped". A failed test's log is shown;
# all logs stay in $E2E_LOG_DIR (default: a temporary directory).
# Exit status: 0 only if at least one test ran and every test passed.
# Environment: TM (binary, default builddir/traffic_meter), E2E_TIMEOUT
# (per test, seconds, default 300), KEEP=1 (keep the labs).
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
export TM=${TM:-$(cd "$dir/../.." && pwd)/builddir/traffic_meter}
log_dir=${E2E_LOG_DIR:-$(mktemp -d /tmp/tm-e2e-logs.XXXXXX)}
mkdir -p "$log_dir"
per_test=${E2E_TIMEOUT:-300}

tests=()
if (($#)); then
	for t in "$@"; do
		t=${t%.sh}
		t=${t#test_}
		tests+=("$dir/test_$t.sh")
	done
else
	tests=("$dir"/test_*.sh)
fi

pass=0 failed=0 skipped=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	name=${name#test_}
	log=$log_dir/$name.log
	if [[ ! -f $t ]]; then
		echo "FAIL $name (no such test)"
		failed=$((failed + 1))
		continue
	fi
	start=$SECONDS
	timeout --kill-after=10 "$per_test" bash "$t" </dev/null >"$log" 2>&1
	rc=$?
	took=$((SECONDS - start))
	case $rc in
	0)
		echo "PASS $name (${took}s)"
		pass=$((pass + 1))
		;;
	77)
		echo "SKIP $name: $(grep -m1 '^SKIP: ' "$log" | cut -c7-)"
		skipped=$((skipped + 1))
		;;
	*)
		[[ $rc == 124 ]] && echo "timed out after ${per_test}s" >>"$log"
		echo "FAIL $name (${took}s, exit $rc)"
		sed 's/^/    | /' "$log" | tail -n 40
		failed=$((failed + 1))
		;;
	esac
done
echo "e2e: $pass passed, $failed failed, $skipped skipped (logs: $log_dir)"
((pass > 0 && failed == 0 && skipped == 0))
