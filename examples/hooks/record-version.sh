#!/bin/sh
# swap hook that records the version now running: writes $NOODLE_TO to
# <dir>/<instance or component>.version. For components whose "deployment"
# is a version file, and for the agent demo.
set -eu
dir=$1
name=${NOODLE_INSTANCE:-$NOODLE_COMPONENT}
echo "$NOODLE_TO" >"$dir/$name.version.next"
mv -f "$dir/$name.version.next" "$dir/$name.version"
echo "$name now $NOODLE_TO"
