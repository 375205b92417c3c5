#!/usr/bin/env bash
# test.sh - set up, build, and run the whole test suite (CTest + CMocka).
#   scripts/test.sh [--sanitize] [ctest options]
# --sanitize: the same suite in an AddressSanitizer + UndefinedBehaviorSanitizer
# build (build-asan/, Debug; time limits scaled: tests/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --sanitize ]; then
	shift
	export BUILD_DIR=${BUILD_DIR:-build-asan} BUILD_TYPE=${BUILD_TYPE:-Debug}
	export CMAKE_ARGS="${CMAKE_ARGS:-} -DSAMC_SANITIZE=ON"
fi
scripts/setup.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
