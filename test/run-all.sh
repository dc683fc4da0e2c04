#!/usr/bin/env bash
# The README's test command (`npm test`): every check the project has, the
# build (src/ -> dist/, what the CLI runs), the TypeScript suite (vitest), the
# C suites (cmocka), a short libFuzzer run,
# the ESP-IDF port compiled against real ESP-IDF (every board x key store x
# kit) and the idf-linux device built with each kit, the chip image built,
# booted on the emulated ESP32-C3 and provisioned, lint and typecheck,
# summed into one closing line `N passed, N failed`.
set -u
cd "$(dirname "$0")/.."
mkdir -p build
passed=0
failed=0
failures=()

count() { # name, exit status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

# vitest_run REPORT [FILE...]: the TypeScript tests (all, or these files), their results counted.
vitest_run() {
  local report=$1
  shift
  rm -f "$report"
  npx vitest run "$@" --reporter=default --reporter=json --outputFile="$report"
  local status=$?
  if [ -f "$report" ]; then
    read -r ts_pass ts_fail < <(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      // A file that fails to load has no test results but is a failure.
      const broken = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
      console.log(r.numPassedTests, r.numFailedTests + broken);' "$report")
    passed=$((passed + ts_pass))
    failed=$((failed + ts_fail))
    [ "$ts_fail" -gt 0 ] && failures+=("TS: $ts_fail vitest test(s)")
    if [ "$status" -ne 0 ] && [ "$ts_fail" -eq 0 ]; then count "vitest run" 1; fi
  else
    count "vitest run" 1
  fi
}

# report_count REPORT STATUS LABEL: a check script's JSON lines, one per combination, counted ("refused":
# the render refuses a store that version cannot build, as it should; only "failed" fails).
report_count() {
  local report=$1 status=$2 label=$3
  if [ ! -s "$report" ]; then
    count "$label (no report: see the message above)" 1
    return
  fi
  read -r r_pass r_fail < <(node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const bad = rows.filter((r) => r.status === "failed").length;
    console.log(rows.length - bad, bad);' "$report")
  passed=$((passed + r_pass))
  failed=$((failed + r_fail))
  [ "$r_fail" -gt 0 ] && failures+=("$label: $r_fail board/key-store/kit combination(s)")
  if [ "$status" -ne 0 ] && [ "$r_fail" -eq 0 ]; then count "$label check" 1; fi
}

summary() {
  echo
  if [ "${#failures[@]}" -gt 0 ]; then printf 'failed: %s\n' "${failures[@]}"; fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# `--e2e` (npm run test:e2e): only the end-to-end tests, the tool as users run it: the demo, provisioning
# a twin (library and CLI), the station, the idf-linux device, signals, the packed install. CI runs them
# again on the older supported Node (.ci/run); dist/ must be built.
E2E_TESTS=(test/demo.test.ts test/json-output.test.ts test/cli-commands.test.ts test/provision-flow.test.ts
           test/station-command.test.ts test/idf-linux-device.test.ts test/signals.test.ts test/pack-install.test.ts
           test/emulated-chip.test.ts)
if [ "${1:-}" = "--e2e" ]; then
  echo "== end-to-end tests (vitest) on Node $(node --version)"
  vitest_run build/vitest-e2e.json "${E2E_TESTS[@]}"
  summary
  exit $?
fi

echo "== build (tsc: src/ -> dist/) on Node $(node --version)"
npm run --silent build; count build $?

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

echo "== ESP-IDF port: every board x key store, compiled with each ESP-IDF kit at -Og and -O2 (scripts/idf-check.ts)"
npx tsx scripts/idf-check.ts --report build/idf-check.jsonl
report_count build/idf-check.jsonl $? "ESP-IDF port"

echo "== idf-linux device: the ESP-IDF port built for ESP-IDF's linux target with each kit"
for kit in 5.5.5 6.0.2; do
  start=$(date +%s)
  node bin/provision.js firmware build --board idf-linux --idf "$kit" >build/idf-linux-$kit.log 2>&1
  status=$?
  tail -n 2 build/idf-linux-$kit.log
  echo "   ($(( $(date +%s) - start )) s)"
  count "idf-linux build with ESP-IDF $kit" "$status"
done

echo "== emulated ESP32-C3: the whole chip image built with each kit, booted, provisioned (scripts/chip-check.ts)"
npx tsx scripts/chip-check.ts --report build/chip-check.jsonl
report_count build/chip-check.jsonl $? "emulated chip"

echo "== TypeScript (vitest) on Node $(node --version)"
vitest_run build/vitest.json

summary
