#!/bin/sh
# tests/aot/micro.sh - `samc build` of a step of micro-batches: trainers of
# examples/fashion_mlp.lua with optimizer.accumulate = 2 and with
# optimizer.sam.m = 4 (their acc / sam_acc programs in the table) reach,
# byte for byte, the checkpoint of the JIT run with the same --set; a
# trainer refuses to --set either key (compiled in); a resumed run is exact.
#
#   sh tests/aot/micro.sh SAMC SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skipped (no data set or no C compiler).
set -u
SAMC=$1
SRC=$2
MODEL=$SRC/examples/fashion_mlp.lua
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
	echo "SKIP: Fashion-MNIST not installed ($DATA)"; exit 77
fi
if ! command -v "${CC:-cc}" >/dev/null 2>&1; then
	echo "SKIP: no C compiler (${CC:-cc})"; exit 77
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

# 10 steps of batch 128, a short last one wrapped; evaluation on 256
SETS="--set data.limit_train=1200 --set data.limit_test=256 --set data.drop_last=false"
for case in "optimizer.accumulate=2" "optimizer.sam.m=4"; do
	n=$(echo "$case" | tr -c 'a-z0-9\n' '_')
	"$SAMC" build "$MODEL" $SETS --set "$case" --cpu native -q -o "$W/t_$n" >"$W/$n.out" 2>&1 &&
	(cd "$W" && "./t_$n" --threads 1 --quiet --checkpoint-dir "aot_$n") >>"$W/$n.out" 2>&1 &&
	"$SAMC" "$MODEL" $SETS --set "$case" --backend cpu --threads 1 --quiet \
		--checkpoint-dir "$W/jit_$n" >>"$W/$n.out" 2>&1 || { cat "$W/$n.out"; bad "$case runs"; continue; }
	if cmp -s "$W/aot_$n/last.safetensors" "$W/jit_$n/last.safetensors"; then
		ok "$case: trainer == JIT, bit for bit"
	else
		bad "$case: the trainer's and the JIT's checkpoints differ"
	fi
	key=${case%%=*}
	"$W/t_$n" --set "$key=1" >/dev/null 2>"$W/set.err"; rc=$?
	[ $rc -eq 2 ] && grep -q "compiled into this trainer's steps: rebuild it with" "$W/set.err" &&
		ok "trainer --set $key is refused" || bad "trainer --set $key: exit $rc, $(cat "$W/set.err")"
done
# a run stopped after its first epoch and resumed ends where the whole run does
R="--set data.limit_train=640 --set data.limit_test=128 --set optimizer.sam.m=2 --epochs 2"
"$SAMC" "$MODEL" $R --threads 1 --quiet --checkpoint-dir "$W/r1" >"$W/r.out" 2>&1 &&
"$SAMC" "$MODEL" $R --threads 1 --quiet --checkpoint-dir "$W/r2" --stop-after 1 >>"$W/r.out" 2>&1 &&
"$SAMC" "$MODEL" $R --threads 1 --quiet --checkpoint-dir "$W/r2" --resume "$W/r2/last.safetensors" \
	>>"$W/r.out" 2>&1 && cmp -s "$W/r1/last.safetensors" "$W/r2/last.safetensors" &&
	ok "optimizer.sam.m=2: a resumed run == the whole run, bit for bit" ||
	{ cat "$W/r.out"; bad "optimizer.sam.m=2: resume"; }
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
