#!/usr/bin/env bash
# Installs the Debian 12 packages the build needs, only those missing.
set -euo pipefail
packages=(
  cmake make g++ pkg-config
  libzmq3-dev cppzmq-dev libflatbuffers-dev flatbuffers-compiler librocksdb-dev
  libboost-test-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libsodium-dev libssl-dev libsystemd-dev libjemalloc-dev systemd python3 python3-zmq python3-flatbuffers clang-tidy clang-14 lld ninja-build binutils
  libcpp-httplib-dev python3-prometheus-client python3-jsonschema
  chromium chromium-driver python3-selenium
  gcovr
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
