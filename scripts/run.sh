#!/usr/bin/env bash
# run.sh - set up, build, and run samc's main job: train the default example
# (Fashion-MNIST MLP, SAM around SGD with momentum, on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/samc examples/fashion_mlp.lua "$@"
