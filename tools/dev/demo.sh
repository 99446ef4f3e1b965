#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts the engine daemon on
# ./var/demo, and drives a scripted demo through upgradectl: components with
# real hook scripts (symlinked releases), an immediate upgrade, a canary with
# a promote, a failing upgrade that rolls back by itself, a rollback to a
# point, an in-process plugin swapped with its state, a rolling upgrade run
# by an upgrade-agent, the audit, statistics and the live watch output.
# Everything runs with keys: every client has its own CURVE key and role, the
# hooks run only from examples/hooks, the plugin libraries are signed.
# Stops the daemon and the agent.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/deps.sh
bash tools/dev/build.sh
root=$PWD/var/demo
rm -rf "$root"
mkdir -p "$root"
ctl=build/tools/upgradectl
step() { printf '\n== %s\n' "$*"; }

# Releases of the demo service "shop": 1.2.0 ships broken (no health marker).
for v in 1.0.0 1.1.0 1.2.0 1.3.0; do
  mkdir -p "$root/shop/releases/$v"
  echo "$v" >"$root/shop/releases/$v/VERSION"
  [ "$v" = 1.2.0 ] || touch "$root/shop/releases/$v/healthy"
done
ln -s releases/1.0.0 "$root/shop/current"
hooks=$PWD/examples/hooks
cat >"$root/db.json" <<JSON
{"name":"db","version":"1.4.0","type":"Service","hooks":{"swap":{"argv":["$hooks/record-version.sh","$root"]}}}
JSON
cat >"$root/shop.json" <<JSON
{"name":"shop","version":"1.0.0","type":"Service","dependencies":[{"name":"db","range":"^1.4"}],
 "hooks":{"swap":{"argv":["$hooks/switch-release.sh","$root/shop"]},
          "health":{"argv":["$hooks/check-release.sh","$root/shop"],"timeout_ms":5000}}}
JSON

step "keys: one CURVE key pair per client, and the daemon's keys file"
mkdir -m 700 "$root/keys"
{
  "$ctl" keys generate --out "$root/keys/ops" --roles admin,operator,observer
  "$ctl" keys generate --out "$root/keys/viewer" --roles observer
  "$ctl" keys generate --out "$root/keys/host-1" --roles agent
} 2>/dev/null >"$root/keys/keys"
chmod 600 "$root/keys/keys"
cat "$root/keys/keys"
# The plugin libraries are signed; the daemon trusts this signer only.
"$ctl" artifact keygen --out "$root/keys/release"
cp "$root/keys/release.pub" "$root/keys/trusted-signers"

step "start upgraded on $root/data"
export NOODLE_COMMANDS=${NOODLE_COMMANDS:-tcp://127.0.0.1:7601}
export NOODLE_EVENTS=${NOODLE_EVENTS:-tcp://127.0.0.1:7602}
export NOODLE_REPLAY=${NOODLE_REPLAY:-tcp://127.0.0.1:7603}
# CURVE on every endpoint (--keys); hook programs run only from --hook-root
# (no shell lines); plugins need their SHA-256 and a trusted signature.
# The live dashboard on a free local port (the log names it).
build/tools/upgraded --data-dir "$root/data" --keys "$root/keys/keys" --plugin-dir "$PWD/build/plugins" \
  --hook-root "$hooks" --trusted-signers "$root/keys/trusted-signers" --sign-head-seconds 1 \
  --dashboard "127.0.0.1:${NOODLE_DEMO_DASHBOARD_PORT:-0}" \
  >"$root/ready" 2>"$root/upgraded.log" &
daemon=$!
watcher=
agent=
cleanup() {
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
  [ -n "$agent" ] && kill "$agent" 2>/dev/null || true
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q ready "$root/ready" 2>/dev/null && break; sleep 0.1; done
cat "$root/ready"
dashboard=$(grep -o 'dashboard on http://[^ ]*' "$root/upgraded.log" | head -n 1 | cut -d' ' -f3 || true)
echo "dashboard (live while the demo runs; NOODLE_DEMO_HOLD=1 keeps it up at the end): $dashboard"
# upgradectl reads its keys from the environment (or flags, or a config file).
export NOODLE_SERVER_PUBLIC_KEY=$root/data/server.pub NOODLE_CLIENT_KEY=$root/keys/ops.key
"$ctl" watch --key "$root/keys/viewer.key" >"$root/watch.out" 2>&1 &
watcher=$!
echo "a client without a key gets no answer:"
"$ctl" status --server-key "" --key "" --request-timeout 300ms 2>&1 | tail -n 1 || true
echo "the viewer may look but not act:"
"$ctl" status --key "$root/keys/viewer.key" | head -n 1
"$ctl" rollback point viewer-was-here --key "$root/keys/viewer.key" || echo "(exit $?)"

step "register components (hooks: examples/hooks/*.sh)"
"$ctl" component register -f "$root/db.json"
"$ctl" component register -f "$root/shop.json"
"$ctl" component list
"$ctl" rollback point before-release

step "immediate upgrade: shop 1.0.0 -> 1.1.0"
"$ctl" upgrade start shop 1.1.0 --wait 30s
echo "current -> $(readlink "$root/shop/current")"

step "canary: db 1.4.0 -> 1.5.0 at 25%, then promoted"
canary=0000000000000000000000000000c0de
"$ctl" upgrade start db 1.5.0 --strategy canary --weights 25,100 --id $canary
for _ in $(seq 100); do
  "$ctl" upgrade status $canary --json | grep -q '"phase":"Paused"' && break
  sleep 0.1
done
"$ctl" status
"$ctl" upgrade promote $canary
sleep 0.5
"$ctl" upgrade status $canary

step "a broken release: shop 1.1.0 -> 1.2.0 fails its health check and rolls back by itself"
"$ctl" upgrade start shop 1.2.0 --wait 30s || echo "(exit $?: not completed)"
echo "current -> $(readlink "$root/shop/current")"

step "bad requests are refused with every reason"
"$ctl" upgrade start shop 2.0.0 --expected 9.9.9 || echo "(exit $?)"
"$ctl" upgrade start ghost 1.0.0 || echo "(exit $?)"

step "roll back to the point 'before-release'"
"$ctl" rollback to --point before-release --reason "demo" --yes --wait 30s
"$ctl" component list
echo "current -> $(readlink "$root/shop/current")"

step "an in-process plugin (examples/plugins/counter): 1.1.0, the broken 1.2.0, then 2.0.0 (new state layout)"
# The plugin host loads a library only with its declared SHA-256 and, as these
# specs require, a signature by a trusted signer (libcounter.so.sig beside it).
for v in 1.0.0 1.1.0 1.2.0 2.0.0; do
  lib=$PWD/build/plugins/counter/$v/libcounter.so
  sha=$(sha256sum "$lib" | cut -d' ' -f1)
  "$ctl" artifact sign --key "$root/keys/release.key" "$lib"
  cat >"$root/counter-$v.json" <<JSON
{"name":"counter","version":"$v","type":"Library","executor":"Plugin",
 "artifact":{"sha256":"$sha","require_signature":true}}
JSON
done
"$ctl" component register -f "$root/counter-1.0.0.json"
"$ctl" upgrade start counter 1.1.0 --target "$root/counter-1.1.0.json" --wait 30s
"$ctl" upgrade start counter 1.2.0 --target "$root/counter-1.2.0.json" --wait 30s || echo "(exit $?: its health check failed in the plugin host; 1.1.0 kept serving)"
"$ctl" upgrade start counter 2.0.0 --target "$root/counter-2.0.0.json" --allow-breaking --wait 30s
echo "the steps record who signed what was loaded:"
"$ctl" events replay --type StepSucceeded | grep -o '"signer":"[0-9a-f]\+"' | sort | uniq -c

step "a rolling upgrade run by an upgrade-agent on its two instances"
build/tools/upgrade-agent --name host-1 --instances web-1,web-2 --hook-root "$hooks" --key "$root/keys/host-1.key" \
  >"$root/agent.ready" 2>"$root/agent.log" &
agent=$!
for _ in $(seq 100); do grep -q ready "$root/agent.ready" 2>/dev/null && break; sleep 0.1; done
cat >"$root/web.json" <<JSON
{"name":"web","version":"3.0.0","type":"Service","executor":"Agent","instances":["web-1","web-2"],
 "hooks":{"swap":{"argv":["$hooks/record-version.sh","$root"]}}}
JSON
"$ctl" component register -f "$root/web.json"
"$ctl" upgrade start web 3.1.0 --strategy rolling --max-unavailable 1 --wait 30s
echo "web-1 runs $(cat "$root/web-1.version"), web-2 runs $(cat "$root/web-2.version")"
cat "$root/agent.log"

step "who was refused: the security/refusals stream"
"$ctl" events replay --stream security/

step "status and statistics"
"$ctl" status
"$ctl" stats

step "audit: recompute the hash chain over the bus, and from the data directory"
"$ctl" audit verify
"$ctl" audit verify --data-dir "$root/data"
echo "an auditor keeps a copy of the daemon's signed chain head; history cut or rewritten below it is caught:"
sleep 1.2  # the daemon signs its head every second here (--sign-head-seconds 1)
"$ctl" audit head save "$root/head.saved"
"$ctl" audit verify --against "$root/head.saved"

step "what 'upgradectl watch' showed while this ran"
sleep 0.5
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=
cat "$root/watch.out"

if [ -n "${NOODLE_DEMO_HOLD:-}" ]; then
  read -r -p "the dashboard is at $dashboard; press Enter to stop the daemon " _ || true
fi
step "stop upgraded (SIGTERM)"
cleanup
trap - EXIT
tail -n 2 "$root/upgraded.log"
