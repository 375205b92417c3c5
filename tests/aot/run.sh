#!/bin/sh
# tests/aot/run.sh - `samc build` end to end: a standalone trainer is built
# from a model (for this machine's CPU, --cpu native), needs neither LLVM
# nor Lua (ldd), trains, and its final checkpoint equals, byte for byte,
# that of the JIT (`samc --backend cpu`)
# run with the same options, also with --set of the recipe values its steps
# read as inputs (and refuses --set of those compiled in); its resume is
# exact; a missing compiler, a missing runtime and an unwritable output give
# clear errors.
#
#   sh tests/aot/run.sh SAMC SOURCE_DIR [MODEL]
# Exit 0 pass, 1 fail, 77 skipped (no data set or no C compiler).
set -u
SAMC=$1
SRC=$2
MODEL=${3:-$SRC/examples/fashion_mlp.lua}
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

# 22 steps of batch 128 (SAM around SGD), evaluation on 512 examples
SETS="--set data.limit_train=2816 --set data.limit_test=512"
# for this machine's CPU, as the JIT compiles: bit-for-bit equality holds
# there (the portable default may round reductions differently: cpu.sh)
NATIVE="--cpu native"

# 1. build, with its time on the summary line
if "$SAMC" build "$MODEL" $SETS $NATIVE -o "$W/trainer" >"$W/build.out" 2>&1; then
	ok "samc build writes a trainer: $(cat "$W/build.out")"
else
	cat "$W/build.out"; bad "samc build"; exit 1
fi
grep -q "in [0-9.]* s (codegen" "$W/build.out" && ok "build time is printed" || bad "build time line"
[ ! -e "$W/trainer.samc.o" ] && [ ! -e "$W/trainer.samc.c" ] && ok "intermediate files removed" \
	|| bad "intermediate files left next to the trainer"

# 2. no LLVM, no Lua at run time (and ldd does see its real libraries)
ldd "$W/trainer" >"$W/ldd.out" 2>&1
if grep -q "libopenblas" "$W/ldd.out" && ! grep -qiE "libLLVM|liblua" "$W/ldd.out"; then
	ok "ldd: no libLLVM, no liblua"
else
	cat "$W/ldd.out"; bad "ldd: the trainer depends on LLVM or Lua (or ldd failed)"
fi

# 3. trainer == JIT, byte for byte, on 1 and on 2 threads
for t in 1 2; do
	(cd "$W" && ./trainer --threads $t --quiet --checkpoint-dir "aot$t" --metrics "aot$t.jsonl") \
		>"$W/aot$t.out" 2>&1 || { cat "$W/aot$t.out"; bad "trainer --threads $t runs"; continue; }
	"$SAMC" "$MODEL" $SETS --backend cpu --threads $t --quiet --checkpoint-dir "$W/jit$t" \
		>"$W/jit$t.out" 2>&1 || { cat "$W/jit$t.out"; bad "samc --backend cpu --threads $t"; continue; }
	if cmp -s "$W/aot$t/last.safetensors" "$W/jit$t/last.safetensors"; then
		ok "threads $t: trainer checkpoint == JIT checkpoint, bit for bit"
	else
		bad "threads $t: trainer and JIT checkpoints differ"
	fi
	grep -q '"step":"22"' "$W/aot$t/last.safetensors" && ok "threads $t: 22 steps taken" \
		|| bad "threads $t: expected 22 steps in the checkpoint"
done

# 3b. another recipe: Adam around ASAM, gelu/tanh (libm calls), SAM every
# second step (the trainer holds sam, base and eval steps), cosine lr,
# f32 and f64: 25 steps each
ADAM="--set data.limit_train=200 --set data.limit_test=64 --set optimizer.sam.every=2"
ADAM="$ADAM --set schedule.name=cosine"
for dt in f32 f64; do
	"$SAMC" build "$SRC/tests/diff/mlp_adam.lua" $ADAM --dtype $dt $NATIVE -q -o "$W/adam_$dt" \
		>"$W/adam.out" 2>&1 &&
	(cd "$W" && ./adam_$dt --threads 1 --quiet --checkpoint-dir "aot_adam_$dt") >>"$W/adam.out" 2>&1 &&
	"$SAMC" "$SRC/tests/diff/mlp_adam.lua" $ADAM --dtype $dt --backend cpu --threads 1 --quiet \
		--checkpoint-dir "$W/jit_adam_$dt" >>"$W/adam.out" 2>&1 || { cat "$W/adam.out"; bad "adam $dt runs"; continue; }
	if cmp -s "$W/aot_adam_$dt/last.safetensors" "$W/jit_adam_$dt/last.safetensors" &&
		grep -q '"step":"25"' "$W/aot_adam_$dt/last.safetensors"; then
		ok "adam/asam $dt: trainer == JIT after 25 steps, bit for bit"
	else
		bad "adam/asam $dt: trainer and JIT checkpoints differ"
	fi
done

# 3c. a convolutional net, its f32 convolutions oneDNN calls (opened by the
# runtime when it meets the first, runtime/rt_conv_lib.h): 20 steps of 32
CM="$SRC/tests/aot/cnn_small.lua"
"$SAMC" build "$CM" $NATIVE -q -o "$W/cnn" >"$W/cnn.out" 2>&1 || { cat "$W/cnn.out"; bad "samc build cnn_small"; }
for t in 1 2; do
	(cd "$W" && ./cnn --threads $t --quiet --checkpoint-dir "aot_cnn$t") >>"$W/cnn.out" 2>&1 &&
	"$SAMC" "$CM" --backend cpu --threads $t --quiet --checkpoint-dir "$W/jit_cnn$t" \
		>>"$W/cnn.out" 2>&1 || { cat "$W/cnn.out"; bad "cnn_small on $t threads runs"; continue; }
	if cmp -s "$W/aot_cnn$t/last.safetensors" "$W/jit_cnn$t/last.safetensors" &&
		grep -q '"step":"20"' "$W/aot_cnn$t/last.safetensors"; then
		ok "cnn (oneDNN convolutions), threads $t: trainer == JIT after 20 steps, bit for bit"
	else
		bad "cnn, threads $t: trainer and JIT checkpoints differ"
	fi
done

# 3d. --set in the trainer: the values its steps read as inputs (SAM's rho
# and its groups', momentum, dampening, weight decay, lr, Adam's betas and
# eps) change without a
# rebuild, and match the JIT given the same --set, bit for bit
HSETS="--set optimizer.sam.rho=0.1 --set optimizer.momentum=0.8 --set optimizer.lr=0.03"
(cd "$W" && ./trainer --threads 1 --quiet --checkpoint-dir aot_set $HSETS) >"$W/set.out" 2>&1 &&
"$SAMC" "$MODEL" $SETS $HSETS --backend cpu --threads 1 --quiet --checkpoint-dir "$W/jit_set" \
	>>"$W/set.out" 2>&1 || { cat "$W/set.out"; bad "trainer --set runs"; }
if cmp -s "$W/aot_set/last.safetensors" "$W/jit_set/last.safetensors"; then
	ok "trainer --set rho, momentum, lr == samc --set, bit for bit"
else
	bad "trainer --set and samc --set checkpoints differ"
fi
cmp -s "$W/aot_set/last.safetensors" "$W/aot1/last.safetensors" &&
	bad "trainer --set changed nothing" || ok "trainer --set changes the run"
ASETS="--set optimizer.sam.rho=0.2 --set optimizer.weight_decay=5e-4 --set optimizer.betas=0.8,0.99"
ASETS="$ASETS --set optimizer.eps=1e-6"
(cd "$W" && ./adam_f32 --threads 1 --quiet --checkpoint-dir aot_aset $ASETS) >"$W/aset.out" 2>&1 &&
"$SAMC" "$SRC/tests/diff/mlp_adam.lua" $ADAM --dtype f32 $ASETS --backend cpu --threads 1 --quiet \
	--checkpoint-dir "$W/jit_aset" >>"$W/aset.out" 2>&1 || { cat "$W/aset.out"; bad "adam --set runs"; }
if cmp -s "$W/aot_aset/last.safetensors" "$W/jit_aset/last.safetensors" &&
	! cmp -s "$W/aot_aset/last.safetensors" "$W/aot_adam_f32/last.safetensors"; then
	ok "adam trainer --set rho, weight decay, betas, eps == samc --set, bit for bit"
else
	bad "adam trainer --set and samc --set checkpoints differ (or --set changed nothing)"
fi
# SAM groups: each group's rho is a step input of its own; dampening and
# weight decay change too
GM="$SRC/tests/aot/mlp_groups.lua"
GSETS="--set optimizer.sam.groups[1].rho=0.3 --set optimizer.sam.rho=0.1"
GSETS="$GSETS --set optimizer.weight_decay=1e-3 --set optimizer.dampening=0.2"
"$SAMC" build "$GM" $NATIVE -q -o "$W/groups" >"$W/groups.out" 2>&1 &&
(cd "$W" && ./groups --threads 1 --quiet --checkpoint-dir aot_g0 &&
	./groups --threads 1 --quiet --checkpoint-dir aot_g $GSETS) >>"$W/groups.out" 2>&1 &&
"$SAMC" "$GM" $GSETS --backend cpu --threads 1 --quiet --checkpoint-dir "$W/jit_g" \
	>>"$W/groups.out" 2>&1 || { cat "$W/groups.out"; bad "groups --set runs"; }
if cmp -s "$W/aot_g/last.safetensors" "$W/jit_g/last.safetensors" &&
	! cmp -s "$W/aot_g/last.safetensors" "$W/aot_g0/last.safetensors"; then
	ok "trainer --set of a SAM group's rho, dampening, weight decay == samc --set, bit for bit"
else
	bad "SAM groups: trainer --set and samc --set checkpoints differ (or --set changed nothing)"
fi
# what is compiled into the steps is refused, saying how to rebuild
"$W/trainer" --set optimizer.nesterov=true >/dev/null 2>"$W/set.err"; rc=$?
[ $rc -eq 2 ] && grep -q "compiled into this trainer's steps: rebuild it with" "$W/set.err" &&
	ok "trainer --set of a compiled-in key is refused" || bad "trainer --set nesterov: exit $rc, $(cat "$W/set.err")"
"$W/trainer" --set optimizer.momentum=0 >/dev/null 2>"$W/set.err"; rc=$?
[ $rc -eq 2 ] && grep -q "whether it is 0 is compiled into its steps" "$W/set.err" &&
	ok "trainer --set momentum=0 is refused" || bad "trainer --set momentum=0: exit $rc, $(cat "$W/set.err")"
"$W/trainer" --set optimizer.sam.roh=0.1 >/dev/null 2>"$W/set.err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown recipe key 'optimizer.sam.roh' (did you mean 'rho'?)" "$W/set.err" &&
	ok "trainer --set of a misspelt key" || bad "trainer --set roh: exit $rc, $(cat "$W/set.err")"

# 4. exact resume in the trainer: 2 epochs == 1 epoch, stop, resume
(cd "$W" && ./trainer --threads 1 --quiet --epochs 2 --checkpoint-dir full &&
	./trainer --threads 1 --quiet --epochs 2 --stop-after 1 --checkpoint-dir part &&
	./trainer --threads 1 --quiet --epochs 2 --resume part/last.safetensors --checkpoint-dir part) \
	>"$W/resume.out" 2>&1 || { cat "$W/resume.out"; bad "trainer resume runs"; }
cmp -s "$W/full/last.safetensors" "$W/part/last.safetensors" && ok "trainer resume is exact" \
	|| bad "trainer: resumed run differs from the uninterrupted one"

# 5. trainer options: bad ones are usage errors (exit 2)
"$W/trainer" --epochs 0 >/dev/null 2>"$W/opt.err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--epochs must be" "$W/opt.err" && ok "trainer: bad --epochs is a usage error" \
	|| bad "trainer --epochs 0: exit $rc, $(cat "$W/opt.err")"
"$W/trainer" --help | grep -q -- "--resume CKPT" && ok "trainer --help lists its options" \
	|| bad "trainer --help"

# 6. clear errors: no compiler, no runtime, unwritable output
expect_error() { # name, pattern, command...
	name=$1; pat=$2; shift 2
	"$@" >"$W/err.out" 2>&1; rc=$?
	if [ $rc -eq 1 ] && grep -q "$pat" "$W/err.out"; then ok "$name"; else
		cat "$W/err.out"; bad "$name (exit $rc)"; fi
}
expect_error "missing compiler on PATH" "no C compiler: 'samc-no-such-cc' is not on PATH" \
	"$SAMC" build "$MODEL" $SETS --cc samc-no-such-cc -o "$W/t2"
expect_error "CC not executable" "is not an executable file" \
	env CC=/nonexistent/bin/cc "$SAMC" build "$MODEL" $SETS -o "$W/t2"
expect_error "missing runtime" "SAMC_RUNTIME_DIR" \
	env SAMC_RUNTIME_DIR="$W/none" "$SAMC" build "$MODEL" $SETS -o "$W/t2"
expect_error "unwritable output" "cannot write next to the output '$W/no/dir/t2'" \
	"$SAMC" build "$MODEL" $SETS -o "$W/no/dir/t2"
[ ! -e "$W/t2" ] && ok "no trainer written on errors" || bad "a trainer was written despite errors"

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all aot checks passed"
