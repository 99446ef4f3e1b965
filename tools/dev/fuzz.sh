#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan, build-fuzz/) and runs
# each one for SECONDS (default 60) over its committed seed corpus, after
# replaying every committed crash reproducer (tools/fuzz/regressions/TARGET/*:
# each must now run clean). New inputs go to build-fuzz/corpus/, never into
# the repository. Prints executions per target; exits non-zero on any crash.
#
#   fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;; esac
all=(fuzz_command fuzz_event fuzz_snapshot fuzz_semver fuzz_component_spec fuzz_event_json fuzz_replay_request)
targets=("${@:-${all[@]}}")

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOODLE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all

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
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  if compgen -G "tools/fuzz/regressions/$t/*" >/dev/null; then
    build-fuzz/tools/fuzz/"$t" tools/fuzz/regressions/"$t"/* >"build-fuzz/$t.regressions.log" 2>&1 ||
      { echo "$t: a committed reproducer fails again (build-fuzz/$t.regressions.log)"; failed=1; continue; }
  fi
  log=build-fuzz/$t.log
  if build-fuzz/tools/fuzz/"$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="build-fuzz/$t-" \
      "$work" "$seed" >"$log" 2>&1; then
    echo "$t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") executions in ${seconds}s, no crash"
  else
    echo "$t: CRASH (see $log; reproducer build-fuzz/$t-*)"
    failed=1
  fi
done
exit $failed
