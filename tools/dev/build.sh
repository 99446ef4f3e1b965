#!/usr/bin/env bash
# Configures and builds into ./build (Release unless BUILD_TYPE says otherwise).
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" ${CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
