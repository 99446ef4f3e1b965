#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan, build-fuzz/) and runs
# each one for SECONDS (default 60) over its committed seed corpus, after
# replaying every committed crash reproducer (tools/fuzz/regressions/TARGET/*:
# each must now run clean). New inputs go to BUILD/corpus/, never into
# the repository. Prints executions per target; exits non-zero on any crash.
#
#   fuzz.sh [--build DIR] [SECONDS] [TARGET...]
#
# --build DIR: build the targets in DIR, an existing build configured with
# clang-14 and -DNOODLE_FUZZ=ON (CI passes the ASan+UBSan test build, which
# is one), instead of configuring build-fuzz/ (RelWithDebInfo).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=""
if [ "${1:-}" = --build ]; then
  [ $# -ge 2 ] && [ -f "$2/CMakeCache.txt" ] || { echo "fuzz.sh: --build needs a configured build directory" >&2; exit 2; }
  grep -q '^NOODLE_FUZZ:BOOL=ON' "$2/CMakeCache.txt" || { echo "fuzz.sh: $2 is not configured with -DNOODLE_FUZZ=ON" >&2; exit 2; }
  build=$2
  shift 2
fi
seconds=${1:-60}
shift || true
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;; esac
all=(fuzz_command fuzz_event fuzz_snapshot fuzz_semver fuzz_component_spec fuzz_event_json fuzz_replay_request)
targets=("${@:-${all[@]}}")

if [ -z "$build" ]; then
  build=build-fuzz
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOODLE_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fuzz_all

# The corpus directory each target starts from.
corpus_of() {
  case "$1" in
    fuzz_command) echo command ;; fuzz_event) echo event ;; fuzz_snapshot) echo snapshot ;;
    fuzz_semver) echo semver ;; fuzz_component_spec) echo component_spec ;;
    fuzz_event_json) echo event_json ;; fuzz_replay_request) echo replay ;;
    *) echo "fuzz.sh: no target '$1' (targets: ${all[*]})" >&2; exit 2 ;;
  esac
}

failed=0
for t in "${targets[@]}"; do
  seed=tools/fuzz/corpus/$(corpus_of "$t")
  work=$build/corpus/$t
  mkdir -p "$work"
  if compgen -G "tools/fuzz/regressions/$t/*" >/dev/null; then
    "$build"/tools/fuzz/"$t" tools/fuzz/regressions/"$t"/* >"$build/$t.regressions.log" 2>&1 ||
      { echo "$t: a committed reproducer fails again ($build/$t.regressions.log)"; failed=1; continue; }
  fi
  log=$build/$t.log
  if "$build"/tools/fuzz/"$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/$t-" \
      "$work" "$seed" >"$log" 2>&1; then
    echo "$t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") executions in ${seconds}s, no crash"
  else
    echo "$t: CRASH (see $log; reproducer $build/$t-*)"
    failed=1
  fi
done
exit $failed
