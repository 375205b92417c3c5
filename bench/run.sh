#!/bin/sh
# run.sh - builds samc_bench and samc (Release) and runs the benchmark: samc against
# PyTorch, SAM against base, kernels against their floors (bench/README.md).
#   bench/run.sh [--reps N] [--quick] [--threads N] [--out FILE]
#   bench/run.sh trainer [--reps N] [--model FILE]   (bench/trainer.py: the trainer
#                                                     against the interpreter)
#   bench/run.sh compare OLD_BUILD_DIR [--reps N]     (bench/compare.py: this build's
#                                                     steps against an earlier build's)
#   bench/run.sh variants [--reps N] [--quick]        (bench/variants.py: SAM's variants'
#                                                      cost per step, bench/README.md)
#   bench/run.sh cnn [--reps N] [--quick]             (bench/cnn.py: examples/fashion_cnn.lua
#                                                     against PyTorch and oneDNN alone)
#   bench/run.sh bf16 [--reps N]                      (bench/bf16.py: precision = "bf16"
#                                                     against f32 step times)
# BUILD_DIR (default build-bench) is where samc_bench is built.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
log="$build/bench-build.log"
mkdir -p "$build"
# the build's output is shown only when it fails
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" --target samc_bench samc -j"$(nproc)"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "run.sh: building samc_bench failed (log: $log)" >&2
	exit 1
fi
if [ "${1:-}" = compare ]; then
	[ $# -ge 2 ] || { echo "usage: bench/run.sh compare OLD_BUILD_DIR [--reps N]" >&2; exit 2; }
	old=$2
	shift 2
	exec /usr/bin/python3 "$root/bench/compare.py" --old "$old" --new "$build" "$@"
fi
if [ "${1:-}" = cnn ]; then
	shift
	exec /usr/bin/python3 "$root/bench/cnn.py" --build-dir "$build" "$@"
fi
if [ "${1:-}" = variants ]; then
	shift
	exec /usr/bin/python3 "$root/bench/variants.py" --build-dir "$build" "$@"
fi
if [ "${1:-}" = bf16 ]; then
	shift
	exec /usr/bin/python3 "$root/bench/bf16.py" --build-dir "$build" "$@"
fi
if [ "${1:-}" = trainer ]; then
	shift
	exec /usr/bin/python3 "$root/bench/trainer.py" --build-dir "$build" "$@"
fi
exec /usr/bin/python3 "$root/bench/run.py" --build-dir "$build" "$@"
