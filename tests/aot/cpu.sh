#!/bin/sh
# tests/aot/cpu.sh - `samc build --cpu`: the default (generic) trainer holds
# no AVX-512 instruction (objdump), while an x86-64-v4 build does (so the
# check can fail); a trainer refuses to start on a CPU without the features
# it was built for, naming them (SAMC_CPU_MASK plays such a CPU where this
# one has them); an unknown --cpu lists the choices; the generic and the
# native trainer agree with each other and with the JIT on a short run
# (bit for bit, or within the rounding of a different vector width), and
# their checkpoints resume in the JIT (same program hash).
#
#   sh tests/aot/cpu.sh SAMC SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skipped (no data set, no C compiler, not x86-64,
# no objdump).
set -u
SAMC=$1
SRC=$2
MODEL=$SRC/examples/fashion_mlp.lua
DATA=/usr/share/datasets/fashion-mnist
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "SKIP: Fashion-MNIST not installed"; exit 77; }
command -v "${CC:-cc}" >/dev/null 2>&1 || { echo "SKIP: no C compiler"; exit 77; }
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: the --cpu levels checked here are x86-64's"; exit 77; }
command -v objdump >/dev/null 2>&1 || { echo "SKIP: no objdump (binutils)"; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
SETS="--set data.limit_train=1280 --set data.limit_test=256"

# AVX-512 in a disassembly: an EVEX prefix (0x62 opens the instruction in
# 64-bit mode), a zmm register, xmm/ymm 16-31 or an opmask register k0-k7
avx512_lines() {
	objdump -d --no-show-raw-insn "$1" | grep -cE '%(zmm[0-9]+|[xy]mm(1[6-9]|2[0-9]|3[01])|k[0-7])\b'
}
evex_lines() {
	objdump -d "$1" | awk -F'\t' 'NF >= 3 && $2 ~ /^62 / {n++} END {print n + 0}'
}

# 1. the default is generic; no AVX-512 anywhere in its trainer
"$SAMC" build "$MODEL" $SETS -o "$W/gen" >"$W/build.out" 2>&1 || { cat "$W/build.out"; bad "build"; exit 1; }
grep -q "for CPU x86-64-v3" "$W/build.out" && ok "default build is generic (x86-64-v3)" \
	|| bad "default build: $(cat "$W/build.out")"
"$SAMC" build "$MODEL" $SETS --cpu x86-64-v4 -q -o "$W/v4" &&
"$SAMC" build "$MODEL" $SETS --cpu native -q -o "$W/native" || bad "build --cpu x86-64-v4 / native"
a=$(avx512_lines "$W/gen") e=$(evex_lines "$W/gen")
[ "$a" -eq 0 ] && [ "$e" -eq 0 ] && ok "generic trainer: no AVX-512 instruction (objdump)" \
	|| bad "generic trainer has $a AVX-512 register lines, $e EVEX instructions"
a=$(avx512_lines "$W/v4") e=$(evex_lines "$W/v4")
[ "$a" -gt 0 ] && [ "$e" -gt 0 ] && ok "the check finds AVX-512 in an x86-64-v4 trainer ($a, $e)" \
	|| bad "x86-64-v4 trainer: the disassembly check found no AVX-512 ($a, $e)"

# 2. a CPU without the built-for features: exit 1, the features named
refuse() { # name, trainer, mask, patterns...
	name=$1 t=$2 mask=$3; shift 3
	SAMC_CPU_MASK=$mask "$t" --quiet --checkpoint-dir "$W/none" >"$W/cpu.out" 2>&1; rc=$?
	for p in "$@"; do grep -qF -- "$p" "$W/cpu.out" || rc=99; done
	[ $rc -eq 1 ] && [ ! -e "$W/none" ] && ok "$name" || { cat "$W/cpu.out"; bad "$name (exit $rc)"; }
}
if grep -qw avx512f /proc/cpuinfo; then MASK=avx512f,avx512vl; else MASK=; fi
refuse "x86-64-v4 trainer on a CPU without AVX-512 refuses to start" "$W/v4" "$MASK" \
	"compiled for the CPU x86-64-v4 (samc build --cpu x86-64-v4), but this CPU lacks" \
	"avx512f" "samc build --cpu generic"
refuse "generic trainer on a CPU without AVX2 names it and --cpu native" "$W/gen" avx2,fma \
	"lacks the features: avx2, fma" "samc build --cpu native"
SAMC_CPU_MASK=sse4a "$W/gen" --quiet --epochs 2 --stop-after 1 >/dev/null 2>&1 && ok "a masked feature it does not use is no obstacle" \
	|| bad "generic trainer refused a mask of a feature it does not need"

# 3. --cpu bogus: a usage error listing the choices
"$SAMC" build "$MODEL" --cpu bogus -o "$W/x" >/dev/null 2>"$W/bogus.err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown CPU; choose one of native, generic, x86-64, x86-64-v2, x86-64-v3, x86-64-v4" \
	"$W/bogus.err" && [ ! -e "$W/x" ] && ok "--cpu bogus lists the choices" \
	|| bad "--cpu bogus: exit $rc, $(cat "$W/bogus.err")"

# 4. numbers: generic and native trainers against each other and the JIT
for t in gen native; do
	(cd "$W" && ./$t --threads 1 --quiet --checkpoint-dir "ck_$t") >"$W/run.out" 2>&1 ||
		{ cat "$W/run.out"; bad "$t trainer runs"; }
done
"$SAMC" "$MODEL" $SETS --backend cpu --threads 1 --quiet --checkpoint-dir "$W/ck_jit" >"$W/jit.out" 2>&1 ||
	{ cat "$W/jit.out"; bad "samc --backend cpu runs"; }
cmp -s "$W/ck_native/last.safetensors" "$W/ck_jit/last.safetensors" &&
	ok "native trainer == JIT, bit for bit" || bad "native trainer and JIT differ"
/usr/bin/python3 "$SRC/tests/aot/cpu_compare.py" "$W/ck_gen/last.safetensors" \
	"$W/ck_native/last.safetensors" >"$W/cmp.out" 2>&1 &&
	ok "generic trainer vs native: $(cat "$W/cmp.out")" || { cat "$W/cmp.out"; bad "generic vs native"; }

# 5. checkpoints are interchangeable: a generic trainer's resumes in the JIT
"$SAMC" "$MODEL" $SETS --backend cpu --threads 1 --quiet --epochs 2 \
	--resume "$W/ck_gen/last.safetensors" --checkpoint-dir "$W/ck_res" >"$W/res.out" 2>&1 &&
	grep -q '"step":"20"' "$W/ck_res/last.safetensors" && ok "a generic trainer's checkpoint resumes in samc" \
	|| { cat "$W/res.out"; bad "resume of a generic trainer's checkpoint in samc"; }

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all cpu checks passed"
