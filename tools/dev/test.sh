#!/usr/bin/env bash
# Installs what is missing, builds, and runs the tests through CTest.
#
#   test.sh                      every test (the README's test command, and CI's)
#   test.sh --unit               one category: --unit --integration --e2e
#                                --performance --security --faults (several: any of them)
#   test.sh SUITE...             the named CTest suites only (e.g. daemon_test)
#   test.sh --sanitize address   the same selection in an ASan+UBSan build (build-asan/:
#                                clang-14, -O0 -g1, with the fuzzers' instrumentation, so
#                                that fuzz.sh --build build-asan reuses it);
#           --sanitize thread    or a TSan build (build-tsan/: GCC, -O1 -g1). Only the
#                                programs the selected suites run are built, and the suites
#                                labelled static (they run no compiled code) are left out
#   test.sh --coverage           the same selection in a gcov build (build-cov/), one
#                                category at a time (counters reset between), then gcovr
#                                over the product code: build-cov/coverage/index.html,
#                                summary.json, a per-module table; fails under
#                                --fail-under N / NOODLE_COVERAGE_MIN line % (default 90)
#   test.sh --report FILE        also write the JSON test report (tools/dev/test_report.py)
#   test.sh --fuzz SECONDS       then run every libFuzzer target that long (tools/dev/fuzz.sh;
#                                clang-14, build-fuzz/); a crash fails the run
#
# Exit status: CTest's (non-zero when any selected test failed), else 3 when
# the coverage gate fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

labels=() suites=() sanitize="" coverage="" report="" fuzz="" fail_under=${NOODLE_COVERAGE_MIN:-90}
while [ $# -gt 0 ]; do
  case "$1" in
    --coverage) coverage=1 ;;
    --fuzz)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "test.sh: --fuzz needs a number of seconds per target" >&2; exit 2; }
      fuzz=$2; shift ;;
    --report)
      [ $# -ge 2 ] || { echo "test.sh: --report needs a file" >&2; exit 2; }
      report=$(realpath -m "$2"); shift ;;
    --fail-under)
      [[ $# -ge 2 && $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "test.sh: --fail-under needs a percentage" >&2; exit 2; }
      fail_under=$2; shift ;;
    --unit|--integration|--e2e|--performance|--security|--faults) labels+=("${1#--}") ;;
    --sanitize)
      [ $# -ge 2 ] || { echo "test.sh: --sanitize needs address or thread" >&2; exit 2; }
      case "$2" in address|thread) sanitize=$2 ;; *) echo "test.sh: --sanitize address|thread, not '$2'" >&2; exit 2 ;; esac
      shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "test.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) suites+=("$1") ;;
  esac
  shift
done

[ -z "$coverage" ] || [ -z "$sanitize" ] || { echo "test.sh: --coverage and --sanitize do not mix" >&2; exit 2; }
bash tools/dev/deps.sh
build=build
if [ -n "$coverage" ]; then
  build=build-cov
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DNOODLE_COVERAGE=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
elif [ -n "$sanitize" ]; then
  build=build-${sanitize/address/asan}
  build=${build/thread/tsan}
  # Line numbers in every report (-g1) at about a Release build's compile
  # time: GCC's UBSan at -O1 takes 2.5 times as long as clang's at -O0.
  # Warnings stay warnings: instrumented code draws GCC's false positives
  # (-Wstringop-overread inside FlatBuffers' reflection under TSan).
  # Ninja: it builds the several targets below at once without building a
  # shared dependency twice, as make's parallel goals do. A directory made
  # by another generator is a disposable build: it starts over.
  if [ -f "$build/CMakeCache.txt" ] && ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$build/CMakeCache.txt"; then
    rm -rf "$build"
  fi
  if [ "$sanitize" = address ]; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
      -DCMAKE_C_FLAGS_DEBUG="-O0 -g1" -DNOODLE_SANITIZE=address -DNOODLE_FUZZ=ON -DNOODLE_WERROR=OFF >/dev/null
  else
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
      -DNOODLE_SANITIZE=thread -DNOODLE_WERROR=OFF >/dev/null
  fi
else
  bash tools/dev/build.sh
fi

# Selection: labels as one regular expression (-L), suites by exact name (-R).
select=()
if [ ${#labels[@]} -gt 0 ]; then
  select+=(-L "^($(IFS='|'; echo "${labels[*]}"))\$")
fi
if [ ${#suites[@]} -gt 0 ]; then
  known=$(cd "$build" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')
  for s in "${suites[@]}"; do
    grep -qx "$s" <<<"$known" || { echo "test.sh: no suite '$s'; suites: $(echo $known)" >&2; exit 2; }
  done
  select+=(-R "^($(IFS='|'; echo "${suites[*]}"))\$")
fi
root=$PWD
if [ -n "$sanitize" ]; then
  select+=(-LE '^static$')
  # The programs the selected suites run: a suite's own program (named as
  # the suite) and the ones its command names; their dependencies come along.
  targets=$(cd "$build" && comm -12 <(ninja -t targets all | sed -n 's/^\([A-Za-z0-9_.+-]*\): phony$/\1/p' | sort -u) \
    <( (ctest -N "${select[@]}" | sed -n 's/^ *Test *#[0-9]*: //p'
        ctest -N -V "${select[@]}" | sed -n 's/^.*Test command: //p' | tr ' ' '\n' | tr -d '"' |
          grep "^$root/$build/" | xargs -r -n1 basename) | sort -u))
  [ -n "$targets" ] || { echo "test.sh: no suite selected" >&2; exit 2; }
  cmake --build "$build" -j"$(nproc)" --target $targets
  # Any report fails its suite: UBSan aborts (-fno-sanitize-recover), ASan
  # and TSan exit non-zero.
  # die_after_fork=0: the crash tests fork a child that runs an engine;
  # history_size=4: enough history to show both stacks of a report.
  export TSAN_OPTIONS="suppressions=$root/tools/dev/tsan.supp die_after_fork=0 history_size=4 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
fi
# After the tests: the fuzzers (--fuzz); a crash fails a run that passed.
run_fuzz() {
  [ -n "$fuzz" ] || return 0
  (cd "$root" && bash tools/dev/fuzz.sh "$fuzz") || { [ $rc -ne 0 ] || rc=1; }
}
cd "$build"
if [ -z "$coverage" ] && [ -z "$report" ]; then
  [ -n "$fuzz" ] || exec ctest --output-on-failure -j"$(nproc)" --timeout 900 "${select[@]}"
  rc=0
  ctest --output-on-failure -j"$(nproc)" --timeout 900 "${select[@]}" || rc=$?
  run_fuzz
  exit $rc
fi

# Coverage and/or report: CTest's JUnit output, the suites' labels, the
# performance suite's figures and gcovr's JSON go to $out (BUILD/coverage with
# --coverage, else BUILD/test-report).
out=$PWD/$([ -n "$coverage" ] && echo coverage || echo test-report)
rm -rf "$out" && mkdir -p "$out"
ctest --show-only=json-v1 >"$out/tests.json"
export NOODLE_PERF_REPORT=$out/perf.json
rc=0
if [ -z "$coverage" ]; then
  ctest --output-on-failure -j"$(nproc)" --timeout 900 "${select[@]}" --output-junit "$out/junit.xml" || rc=$?
else
  # One category at a time with the counters reset, so that each category's
  # coverage is its own; the tracefiles are then merged for the total.
  # --unit etc. narrow the categories; by default the five every suite has one of.
  categories=("${labels[@]}")
  [ ${#categories[@]} -gt 0 ] || categories=(unit integration e2e performance security)
  names=()
  [ ${#suites[@]} -eq 0 ] || names=(-R "^($(IFS='|'; echo "${suites[*]}"))\$")
  # Product code only: not tests/, tools/bench/, tools/dev/, examples/, nor
  # the generated code under the build directory or anything outside the tree.
  # Branches: not the compiler's exception edges nor unreachable ones.
  gcovr_args=(--root "$root" --object-directory "$PWD" -j"$(nproc)"
              --exclude-unreachable-branches --exclude-throw-branches --gcov-ignore-parse-errors
              --filter "$root/(schemas|store|projections|engine|bus|observe|dashboard|tools)/"
              --exclude "$root/tools/(bench|dev)/" --exclude "$root/build[^/]*/")
  tracefiles=()
  for c in "${categories[@]}"; do
    find . -name '*.gcda' -delete
    echo "== $c tests (coverage)"
    ctest --output-on-failure -j"$(nproc)" --timeout 900 -L "^$c\$" "${names[@]}" --no-tests=ignore \
      --output-junit "$out/junit-$c.xml" || rc=$?
    gcovr "${gcovr_args[@]}" "$PWD" --json "$out/$c.tracefile.json" --json-summary "$out/$c.summary.json"
    tracefiles+=(--add-tracefile "$out/$c.tracefile.json")
  done
  gcovr --root "$root" "${tracefiles[@]}" --json-summary-pretty --json-summary "$out/summary.json" \
    --html-details "$out/index.html" --html-title "NoodleCore coverage" --txt "$out/missing.txt"
  echo "coverage report: $out/index.html"
fi

if [ -n "$report" ]; then
  args=(--tests "$out/tests.json" --perf "$out/perf.json" -o "$report")
  for j in "$out"/junit*.xml; do [ -e "$j" ] && args+=(--junit "$j"); done
  if [ -n "$coverage" ]; then
    args+=(--overall "$out/summary.json")
    for c in "${categories[@]}"; do args+=(--coverage "$c=$out/$c.summary.json"); done
  fi
  /usr/bin/python3 "$root/tools/dev/test_report.py" build "${args[@]}"
fi
if [ -n "$coverage" ]; then
  /usr/bin/python3 "$root/tools/dev/test_report.py" modules "$out/summary.json" --fail-under "$fail_under" || { [ $rc -ne 0 ] || rc=3; }
fi
run_fuzz
exit $rc
