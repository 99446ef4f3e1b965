#!/bin/sh
# swap hook for a symlinked release directory:
#   <root>/releases/<version>/   and   <root>/current -> releases/<version>
# Points current at $NOODLE_TO atomically (rename over the old link).
# On a revert the engine runs it with NOODLE_FROM and NOODLE_TO exchanged.
set -eu
root=$1
test -d "$root/releases/$NOODLE_TO" || { echo "no release $NOODLE_TO under $root"; exit 2; }
ln -sfn "releases/$NOODLE_TO" "$root/current.next"
mv -T "$root/current.next" "$root/current"
echo "current -> releases/$NOODLE_TO (weight ${NOODLE_WEIGHT}%, ${NOODLE_INSTANCE:-all instances})"
