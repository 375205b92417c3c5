#!/bin/sh
# deep_chain.sh - a model of 50,000 chained elementwise ops (models/chain_50k.lua)
# through every stage of `samc emit` (its SAM step too) and one epoch of
# training on the interpreter; with --long also one epoch on the CPU backend
# and `samc build` with its trainer (LLVM compiles the 150,000 ops of the
# training and evaluation steps for over a minute). All run with the C stack
# cut to 1 MiB: each must succeed or fail with a message (exit 1), never
# crash. A recursive walk over the chain would need far more stack than that.
# usage: deep_chain.sh SAMC [--long]
set -u
samc=$1
long=${2:-}
model=$(dirname "$0")/models/chain_50k.lua
data=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
ulimit -s 1024 || exit 1
fail=0

# ok NAME CMD...: exit 0, or 1 with a message; anything else fails the test
ok() {
	name=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok   $name"
	elif [ "$rc" -eq 1 ] && [ -s "$tmp/err" ]; then
		echo "ok   $name (refused: $(head -c 300 "$tmp/err"))"
	else
		echo "FAIL $name: exit status $rc; stderr: $(tail -c 600 "$tmp/err")"
		fail=$((fail + 1))
	fi
}

stages=$("$samc" emit --stage=list | sed -n 's/^  \([a-z]*\).*/\1/p')
[ -n "$stages" ] || { echo "FAIL: no stages listed"; exit 1; }
for s in $stages; do
	ok "emit --stage=$s" "$samc" emit --stage="$s" "$model"
done
for s in sam lowrank lower; do
	ok "emit --stage=$s (SAM)" "$samc" emit --stage="$s" --set optimizer.sam.rho=0.05 "$model"
done
if [ ! -f "$data" ]; then
	echo "skip training and build: no data set at $data"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi
ok "train --backend interp" "$samc" "$model" --backend interp --epochs 1 --quiet
if [ "$long" = --long ]; then
	ok "train --backend cpu" "$samc" "$model" --backend cpu --epochs 1 --threads 2 --quiet
	ok "build -O0" "$samc" build "$model" -O0 -o "$tmp/trainer" --quiet
	if [ -x "$tmp/trainer" ]; then
		ok "trainer" "$tmp/trainer" --epochs 1 --threads 2 --quiet
	fi
fi
[ "$fail" -eq 0 ] || exit 1
