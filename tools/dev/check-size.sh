#!/bin/sh
# The size rule for product code (tests excluded): no source file over 600
# lines, no function over 80 lines (clang-tidy's readability-function-size,
# which counts a function's lines from its opening to its closing brace).
#   tools/dev/check-size.sh BUILD_DIR     (BUILD_DIR has compile_commands.json)
set -eu
build=${1:?usage: check-size.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
sources=$(git ls-files '*.cc' '*.h' | grep -v -e '^tests/' -e '^examples/')
status=0
for f in $sources; do
  n=$(wc -l < "$f")
  if [ "$n" -gt 600 ]; then echo "$f: $n lines (over 600)"; status=1; fi
done
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$tidy" ]; then echo "clang-tidy not found (apt-get install clang-tidy)"; exit 2; fi
# clang-tidy reads the build's compile commands without the precompiled
# header GCC made (clang cannot read it; each file includes what it needs).
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
python3 - "$build/compile_commands.json" "$db/compile_commands.json" <<'PY'
import json, re, sys
commands = json.load(open(sys.argv[1]))
for c in commands:
    c["command"] = re.sub(r"\s-include\s+\S*cmake_pch\.hxx|\s-Winvalid-pch", "", c["command"])
json.dump(commands, open(sys.argv[2], "w"))
PY
out=$(printf '%s\n' $sources | grep '\.cc$' | xargs -P "$(nproc)" -n 6 "$tidy" -p "$db" --quiet \
  -checks='-*,readability-function-size' \
  -config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 80}]}' 2>/dev/null |
  grep -A1 'readability-function-size' | grep -E 'warning:|note: [0-9]+ lines' || true)
if [ -n "$out" ]; then
  echo "functions over 80 lines:"
  echo "$out"
  status=1
fi
[ "$status" -eq 0 ] && echo "size rule holds: files <= 600 lines, functions <= 80 lines"
exit $status
