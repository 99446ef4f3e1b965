#!/usr/bin/env bash
# Generates the compatibility data directory of this release: a small data
# directory that every later release must open (tests/compat_test.cc), and
# expected.json, what this build answered about it (registry, status,
# statistics, the phase of each upgrade).
#
#   tools/dev/make-compat-data.sh [BUILD_DIR [OUT_DIR]]
#     BUILD_DIR  a built tree (default: build)
#     OUT_DIR    default: tests/data/release-<version from CMakeLists.txt>
#
# Drives the real `upgraded` and `upgradectl`, with hooks from examples/hooks.
# The hooks are shell lines naming $COMPAT_HOOKS and $COMPAT_ROOT (set by
# whoever opens the data: this script, the test) rather than absolute paths,
# so the recorded specs work from any checkout. What it records:
#   - components db, shop (depends on db ^1.4) and cache, registered
#   - rollback points before-release and after-release
#   - shop 1.0.0 -> 1.1.0 completed; shop 1.1.0 -> 1.2.0 failed its health
#     check and rolled back
#   - a canary db 1.4.0 -> 1.5.0 (weights 25,100) paused at 25 % until promoted
#   - projection snapshots (--snapshot-every 4)
# A released directory is never regenerated: a later release adds its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=$(cd "${1:-build}" && pwd)
version=$(sed -n 's/^project(noodlecore VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
out=${2:-tests/data/release-$version}
[ -n "$version" ] || { echo "no project version in CMakeLists.txt" >&2; exit 1; }
[ ! -e "$out/data" ] || { echo "$out/data exists; a released directory is never regenerated" >&2; exit 1; }

work=$(mktemp -d)
daemon=
cleanup() {
  if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export COMPAT_HOOKS=$src/examples/hooks COMPAT_ROOT=$work/root
# The shop's releases: 1.2.0 ships broken (no health marker).
for v in 1.0.0 1.1.0 1.2.0; do
  mkdir -p "$COMPAT_ROOT/shop/releases/$v"
  echo "$v" >"$COMPAT_ROOT/shop/releases/$v/VERSION"
  [ "$v" = 1.2.0 ] || touch "$COMPAT_ROOT/shop/releases/$v/healthy"
done
ln -s releases/1.0.0 "$COMPAT_ROOT/shop/current"
cat >"$work/db.json" <<'JSON'
{"name":"db","version":"1.4.0","type":"Service","metadata":{"owner":"data-team"},
 "hooks":{"swap":{"argv":["exec \"$COMPAT_HOOKS/record-version.sh\" \"$COMPAT_ROOT\""],"shell":true}}}
JSON
cat >"$work/shop.json" <<'JSON'
{"name":"shop","version":"1.0.0","type":"Service","dependencies":[{"name":"db","range":"^1.4"}],
 "hooks":{"swap":{"argv":["exec \"$COMPAT_HOOKS/switch-release.sh\" \"$COMPAT_ROOT/shop\""],"shell":true},
          "health":{"argv":["exec \"$COMPAT_HOOKS/check-release.sh\" \"$COMPAT_ROOT/shop\""],"shell":true,"timeout_ms":5000}}}
JSON
cat >"$work/cache.json" <<'JSON'
{"name":"cache","version":"2.0.0","type":"Runtime","hot_swappable":false,"critical":true,
 "hooks":{"swap":{"argv":["exec \"$COMPAT_HOOKS/record-version.sh\" \"$COMPAT_ROOT\""],"shell":true}}}
JSON

# ipc endpoints in the work dir: no ports to collide with; no keys (local only).
export NOODLE_COMMANDS=ipc://$work/commands NOODLE_EVENTS=ipc://$work/events NOODLE_REPLAY=ipc://$work/replay
export HOME=$work  # no client config of the user's
"$build/tools/upgraded" --data-dir "$work/data" --allow-shell-hooks --snapshot-every 4 \
  >"$work/ready" 2>"$work/upgraded.log" &
daemon=$!
for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/ready" || { cat "$work/upgraded.log" >&2; exit 1; }
ctl() { "$build/tools/upgradectl" "$@"; }

for c in db shop cache; do ctl component register -f "$work/$c.json" >/dev/null; done
ctl rollback point before-release >/dev/null
completed=00000000000000000000000000000001
rolled_back=00000000000000000000000000000002
canary=0000000000000000000000000000c0de
ctl upgrade start shop 1.1.0 --id $completed --wait 30
ctl upgrade start shop 1.2.0 --id $rolled_back --wait 30 && { echo "shop 1.2.0 should have rolled back" >&2; exit 1; }
ctl rollback point after-release >/dev/null
ctl upgrade start db 1.5.0 --strategy canary --weights 25,100 --id $canary >/dev/null
for _ in $(seq 300); do
  ctl upgrade status $canary --json | grep -q '"phase":"Paused"' && break
  sleep 0.1
done
ctl upgrade status $canary --json | grep -q '"phase":"Paused"' || { echo "the canary did not pause" >&2; exit 1; }

ctl component list --json >"$work/registry.json"
ctl status --json >"$work/status.json"
ctl stats --json >"$work/statistics.json"
for id in $completed $rolled_back $canary; do ctl upgrade status $id --json >"$work/upgrade-$id.json"; done
kill -TERM "$daemon"
wait "$daemon" || { cat "$work/upgraded.log" >&2; exit 1; }
daemon=

mkdir -p "$out"
cp -a "$work/data" "$out/data"
# RocksDB's info logs are diagnostics of this run, not data.
find "$out/data" \( -name LOG -o -name 'LOG.old.*' \) -delete
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$work" "$out/expected.json" "$version" "$commit" $completed $rolled_back $canary <<'PY'
import json, sys
work, out, version, commit, *ids = sys.argv[1:]
load = lambda name: json.load(open(f"{work}/{name}"))
expected = {
    "release": version,
    "commit": commit,
    "registry": load("registry.json"),
    "status": load("status.json"),
    "statistics": load("statistics.json"),
    "upgrades": {i: load(f"upgrade-{i}.json")["phase"] for i in ids},
    "paused_canary": ids[2],
}
with open(out, "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
PY
du -sh "$out"
echo "wrote $out (commit $commit)"
