#!/usr/bin/env bash
# train_full.sh - the main job: `samc examples/fashion_mlp.lua --epochs 1`
# trains on all 60,000 Fashion-MNIST images and must report a test accuracy
# of at least 83% within 5 minutes (the acceptance bound for the interpreter
# on a two-core machine).
# usage: train_full.sh SAMC [BACKEND]       (exit 77 if samc lacks BACKEND)
set -euo pipefail
samc=$1
backend=${2:-interp}
here=$(cd "$(dirname "$0")" && pwd)
model=$here/../../examples/fashion_mlp.lua
min_acc=0.83
max_seconds=300
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
set +e
"$samc" "$model" --epochs 1 --backend "$backend" --log-every 100 \
	--metrics "$work/metrics.jsonl" >"$work/out" 2>"$work/err"
rc=$?
set -e
elapsed=$(($(date +%s) - start))
cat "$work/out"
if [ "$rc" -eq 2 ] && grep -q "unknown backend" "$work/err"; then
	echo "SKIP: $(cat "$work/err")"
	exit 77
fi
if [ "$rc" -ne 0 ]; then
	echo "FAIL: samc exited with $rc: $(cat "$work/err")"
	exit 1
fi
acc=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$work/out")
if [ -z "$acc" ]; then
	echo "FAIL: no 'test accuracy:' line in samc's output"
	exit 1
fi
steps=$(grep -c '"kind":"step"' "$work/metrics.jsonl" || true)
fail=0
if ! awk -v a="$acc" -v m="$min_acc" 'BEGIN { exit !(a >= m) }'; then
	echo "FAIL: test accuracy $acc < $min_acc"
	fail=1
fi
if ! grep -q '(1 epoch, 468 steps' "$work/out"; then
	echo "FAIL: expected one epoch of 468 steps (60,000 images, batch 128, drop_last)"
	fail=1
fi
if [ "$elapsed" -gt "$max_seconds" ]; then
	echo "FAIL: the epoch took ${elapsed} s on $backend (limit ${max_seconds} s)"
	fail=1
fi
echo "train_full: backend $backend, test accuracy $acc, ${elapsed} s, $steps step lines in --metrics"
exit "$fail"
