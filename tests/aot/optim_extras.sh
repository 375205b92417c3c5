#!/bin/sh
# tests/aot/optim_extras.sh - a trainer built from a model with RMSprop,
# clip_grad_norm, no_decay and optimizer groups under SAM
# (mlp_optim_extras.lua): it equals the JIT bit for bit, its --set of the
# values its steps read (alpha, eps, clip_grad_norm, a group's lr_scale and
# weight_decay) equals samc's --set, what is compiled in is refused, and it
# resumes exactly.
#
#   sh tests/aot/optim_extras.sh SAMC SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skipped (no data set or no C compiler).
set -u
SAMC=$1
SRC=$2
MODEL=$SRC/tests/aot/mlp_optim_extras.lua
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
RUN="--threads 1 --quiet"

"$SAMC" build "$MODEL" --cpu native -q -o "$W/t" >"$W/build.out" 2>&1 || { cat "$W/build.out"; bad "samc build"; exit 1; }
ok "samc build"

# the trainer against the JIT, plain and with --set
SETS="--set optimizer.alpha=0.9 --set optimizer.eps=1e-6 --set optimizer.clip_grad_norm=0.5"
SETS="$SETS --set optimizer.groups[1].lr_scale=2 --set optimizer.groups[2].weight_decay=0.1"
SETS="$SETS --set optimizer.weight_decay=1e-2"
(cd "$W" && ./t $RUN --checkpoint-dir aot0 && ./t $RUN --checkpoint-dir aot $SETS) >"$W/run.out" 2>&1 &&
"$SAMC" "$MODEL" --backend cpu $RUN --checkpoint-dir "$W/jit0" >>"$W/run.out" 2>&1 &&
"$SAMC" "$MODEL" --backend cpu $RUN $SETS --checkpoint-dir "$W/jit" >>"$W/run.out" 2>&1 ||
	{ cat "$W/run.out"; bad "trainer and samc run"; }
cmp -s "$W/aot0/last.safetensors" "$W/jit0/last.safetensors" &&
	ok "trainer == JIT, bit for bit" || bad "trainer and JIT checkpoints differ"
for b in square_avg grad_avg momentum_buffer; do
	grep -q "opt.fc1.weight.$b" "$W/aot0/last.safetensors" && ok "the checkpoint holds $b" ||
		bad "no opt.fc1.weight.$b in the checkpoint"
done
if cmp -s "$W/aot/last.safetensors" "$W/jit/last.safetensors" &&
	! cmp -s "$W/aot/last.safetensors" "$W/aot0/last.safetensors"; then
	ok "trainer --set alpha, eps, clip_grad_norm, a group's lr_scale and weight_decay == samc --set"
else
	bad "trainer --set and samc --set differ (or --set changed nothing)"
fi

refused() { # key=value, pattern
	"$W/t" --set "$1" >/dev/null 2>"$W/set.err"; rc=$?
	[ $rc -eq 2 ] && grep -q "$2" "$W/set.err" && ok "trainer --set $1 is refused" ||
		bad "trainer --set $1: exit $rc, $(cat "$W/set.err")"
}
refused optimizer.no_decay=bn "optimizer.no_decay is compiled into this trainer's steps"
refused optimizer.centered=false "optimizer.centered is compiled into this trainer's steps"
refused optimizer.clip_grad_norm=0 "whether it is 0 is compiled into its steps"
refused "optimizer.groups[1].weight_decay=0" "whether it is 0 is compiled into its steps"
refused "optimizer.groups[3].lr_scale=1" "this trainer has 2 optimizer group(s), not 3"

# exact resume: 2 epochs == 1 epoch, stop, resume
(cd "$W" && ./t $RUN --epochs 2 --checkpoint-dir full &&
	./t $RUN --epochs 2 --stop-after 1 --checkpoint-dir part &&
	./t $RUN --epochs 2 --resume part/last.safetensors --checkpoint-dir part) \
	>"$W/resume.out" 2>&1 || { cat "$W/resume.out"; bad "trainer resume runs"; }
cmp -s "$W/full/last.safetensors" "$W/part/last.safetensors" && ok "trainer resume is exact" \
	|| bad "trainer: resumed run differs from the uninterrupted one"

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all optimizer-extras trainer checks passed"
