#!/usr/bin/env bash
# tests/bench/run.sh - prove that the benchmark still works: "make test"
# runs "make bench QUICK=1" once (the same build as the test run: plain or
# SANITIZE=1). No figure is judged - there are no time assertions - but
# every bench item that produced a number counts as one passed test, every
# item that failed to produce one as a failed test, and an item that cannot
# be measured in this tree yet ("n/a") as neither. The JSON the run writes
# must parse. Last line: "N passed, N failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
sanitize=0
[[ ${POSTERN_BUILD:-build} == *asan* ]] && sanitize=1
build=build
[[ $sanitize == 1 ]] && build=build/asan

out=$(timeout 280 make --no-print-directory bench QUICK=1 SANITIZE=$sanitize 2>&1)
rc=$?
printf '%s\n' "$out"
line=$(grep -E '^bench: [0-9]+ measured, [0-9]+ failed' <<<"$out" | tail -n 1)
if [[ -z $line ]]; then
	echo "bench: no summary line (exit status $rc)"
	echo "0 passed, 1 failed"
	exit 1
fi
passed=$(awk '{ print $2 }' <<<"$line")
failed=$(awk '{ print $4 }' <<<"$line")
if ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$build/bench/latest.json" 2>/dev/null &&
	! jq -e . "$build/bench/latest.json" >/dev/null 2>&1; then
	echo "bench: $build/bench/latest.json does not parse"
	failed=$((failed + 1))
fi
[[ $rc != 0 && $failed == 0 ]] && { echo "bench: make bench exited $rc"; failed=1; }
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
