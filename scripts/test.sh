#!/usr/bin/env bash
# test.sh - set up, build, and run the whole test suite (CTest + CMocka).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
