#!/usr/bin/env bash
# run.sh - set up, build, and run samc's main job: train the default example
# (Fashion-MNIST MLP, SAM around SGD with momentum, on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
# the metrics, and the curves samc draws beside them, go to runs/fashion_mlp/
mkdir -p runs/fashion_mlp
exec build/samc examples/fashion_mlp.lua --metrics runs/fashion_mlp/metrics.jsonl "$@"
