#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/deps.sh
bash tools/dev/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
