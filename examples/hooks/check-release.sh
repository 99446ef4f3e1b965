#!/bin/sh
# health hook: the release that `current` points at is healthy when it holds
# a file named `healthy` (a stand-in for a real probe: curl, a query...).
set -eu
root=$1
version=$(cat "$root/current/VERSION")
if [ -f "$root/current/healthy" ]; then
  echo "release $version healthy"
else
  echo "release $version: health probe failed"
  exit 1
fi
