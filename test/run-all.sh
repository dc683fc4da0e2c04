#!/usr/bin/env bash
# The README's test command (`npm test`): every check the project has, the
# TypeScript suite (vitest), the C suites (cmocka), a short libFuzzer run,
# lint and typecheck, summed into one closing line `N passed, N failed`.
set -u
cd "$(dirname "$0")/.."
mkdir -p build
passed=0
failed=0
failures=()

count() { # name, exit status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

echo "== typecheck (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json; count typecheck $?

echo "== lint (biome)"
npx biome check src test scripts; count lint $?

echo "== C core and twin (cmocka)"
c_log=build/c-tests.log
make -C firmware-templates test 2>&1 | tee "$c_log"
c_status=${PIPESTATUS[0]}
c_pass=$(grep -Eo '\[  PASSED  \] [0-9]+ test' "$c_log" | awk '{s += $4} END {print s + 0}')
c_fail=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$c_log" | awk '{s += $4} END {print s + 0}')
passed=$((passed + c_pass))
failed=$((failed + c_fail))
# A build error or crash prints no cmocka summary: count it, never hide it.
if [ "$c_status" -ne 0 ] && [ "$c_fail" -eq 0 ]; then count "C build/run" 1; fi
[ "$c_fail" -gt 0 ] && failures+=("C: $c_fail cmocka test(s)")

echo "== C decoder fuzz (libFuzzer, short run)"
make -C firmware-templates fuzz FUZZ_RUNS="${FUZZ_RUNS:-50000}" >build/fuzz.log 2>&1
fuzz_status=$?
tail -n 3 build/fuzz.log
count "fuzz" "$fuzz_status"

echo "== TypeScript (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile=build/vitest.json
ts_status=$?
if [ -f build/vitest.json ]; then
  read -r ts_pass ts_fail < <(node -e '
    const r = JSON.parse(require("fs").readFileSync("build/vitest.json", "utf8"));
    // A file that fails to load has no test results but is a failure.
    const broken = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
    console.log(r.numPassedTests, r.numFailedTests + broken);')
  passed=$((passed + ts_pass))
  failed=$((failed + ts_fail))
  [ "$ts_fail" -gt 0 ] && failures+=("TS: $ts_fail vitest test(s)")
  if [ "$ts_status" -ne 0 ] && [ "$ts_fail" -eq 0 ]; then count "vitest run" 1; fi
else
  count "vitest run" 1
fi

echo
if [ "${#failures[@]}" -gt 0 ]; then printf 'failed: %s\n' "${failures[@]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
