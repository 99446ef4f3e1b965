#!/usr/bin/env bash
# Writes docs/cli/<program>.md from the programs' own --help, every
# subcommand included, so the pages say what the build says.
#   tools/dev/gen-cli-docs.sh BUILD_DIR            rewrite docs/cli
#   tools/dev/gen-cli-docs.sh --check BUILD_DIR    exit 1 when docs/cli differs (CTest: cli_docs)
set -euo pipefail
check=false
if [[ ${1:-} == --check ]]; then check=true; shift; fi
build=$(cd "${1:?usage: gen-cli-docs.sh [--check] BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/cli"

# The same text on every machine: no client config, no NOODLE_* variables,
# the programs named as typed (CLI11 prints argv[0] in its usage lines).
help() { env -i HOME="$work/home" PATH="$build/tools:/usr/bin:/bin" LC_ALL=C "$@" --help; }
subcommands() { awk '/^Subcommands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on=0}'; }

# A section for the command line "$@", then one for each subcommand, depth first.
section() {
  local text sub
  text=$(help "$@")
  printf '\n## %s\n\n```text\n%s\n```\n' "$*" "$text"
  for sub in $(subcommands <<<"$text"); do section "$@" "$sub"; done
}

for program in upgraded upgradectl upgrade-agent; do
  {
    printf '# %s\n\n' "$program"
    printf 'What `%s --help` prints, for every subcommand. Written by\n' "$program"
    printf '`tools/dev/gen-cli-docs.sh` from a build; edit the program, not this page.\n'
    section "$program"
  } >"$work/cli/$program.md"
done

if $check; then
  if ! diff -ru "$root/docs/cli" "$work/cli"; then
    echo "docs/cli differs from the programs' --help: run tools/dev/gen-cli-docs.sh $build"
    exit 1
  fi
  echo "docs/cli matches the programs' --help"
else
  mkdir -p "$root/docs/cli"
  cp "$work/cli/"*.md "$root/docs/cli/"
fi
