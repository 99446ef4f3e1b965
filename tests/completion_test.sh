#!/usr/bin/env bash
# The bash completion against the built programs:
#   completion_test.sh COMPLETION_FILE PROGRAM_DIR
# Each case types a command line and checks what TAB offers.
set -uo pipefail
source "${1:?usage: completion_test.sh COMPLETION_FILE PROGRAM_DIR}"
export PATH="${2:?}:$PATH"
failed=0 passed=0

# expect "WANTED WORDS" WORD...: completing the last WORD offers exactly these.
expect() {
  local want=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _noodle
  local got="${COMPREPLY[*]}"
  if [[ $got == "$want" ]]; then
    passed=$((passed + 1))
  else
    echo "FAIL: [$*] offered [$got], expected [$want]"
    failed=$((failed + 1))
  fi
}

[[ $(complete -p upgradectl) == *"-F _noodle"* ]] || { echo "FAIL: upgradectl has no completion"; failed=$((failed + 1)); }
expect "upgrade" upgradectl up
expect "start status" upgradectl upgrade st
expect "--strategy" upgradectl upgrade start --str
expect "immediate gradual canary blue_green rolling" upgradectl upgrade start db 1.2.0 --strategy ""
expect "canary" upgradectl upgrade start --strategy c
expect "basic standard strict" upgradectl upgrade start --level ""
expect "--version" upgradectl --vers
# upgradectl log ... is answered by noodle-log.
expect "append show tail verify stats" upgradectl log ""
expect "--sync" upgraded --sy
expect "on off" upgraded --sync ""
expect "--instances" upgrade-agent --inst
# Past a flag's value and a flag without one.
expect "--strategy" upgradectl upgrade start --commands tcp://127.0.0.1:7601 --str
expect "basic standard strict" upgradectl upgrade start --json --level ""
# No such subcommand: nothing to offer.
expect "" upgradectl frobnicate ""
# A value that is a path: files.
dir=$(mktemp -d)
touch "$dir/spec-one.json"
expect "$dir/spec-one.json" upgradectl component register -f "$dir/spec-o"
rm -rf "$dir"

echo "$passed passed, $failed failed"
((failed == 0))
