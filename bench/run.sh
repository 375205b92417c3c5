#!/bin/sh
# run.sh - builds samc_bench (Release) and runs the benchmark: samc against
# PyTorch, SAM against base, kernels against their floors (bench/README.md).
#   bench/run.sh [--reps N] [--quick] [--threads N] [--out FILE]
# BUILD_DIR (default build-bench) is where samc_bench is built.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target samc_bench -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/bench/run.py" --build-dir "$build" "$@"
