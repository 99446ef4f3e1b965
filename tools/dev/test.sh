#!/usr/bin/env bash
# Installs what is missing, builds, and runs the tests through CTest.
#
#   test.sh                      every test (the README's test command, and CI's)
#   test.sh --unit               one category: --unit --integration --e2e
#                                --performance --security --faults (several: any of them)
#   test.sh SUITE...             the named CTest suites only (e.g. daemon_test)
#   test.sh --sanitize address   the same selection in an ASan+UBSan build (build-asan/);
#           --sanitize thread    or a TSan build (build-tsan/)
#
# Exit status: CTest's (non-zero when any selected test failed).
set -euo pipefail
cd "$(dirname "$0")/../.."

labels=() suites=() sanitize=""
while [ $# -gt 0 ]; do
  case "$1" in
    --unit|--integration|--e2e|--performance|--security|--faults) labels+=("${1#--}") ;;
    --sanitize)
      [ $# -ge 2 ] || { echo "test.sh: --sanitize needs address or thread" >&2; exit 2; }
      case "$2" in address|thread) sanitize=$2 ;; *) echo "test.sh: --sanitize address|thread, not '$2'" >&2; exit 2 ;; esac
      shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "test.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) suites+=("$1") ;;
  esac
  shift
done

bash tools/dev/deps.sh
build=build
if [ -n "$sanitize" ]; then
  build=build-${sanitize/address/asan}
  build=${build/thread/tsan}
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOODLE_SANITIZE="$sanitize" >/dev/null
  cmake --build "$build" -j"$(nproc)"
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
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900 "${select[@]}"
