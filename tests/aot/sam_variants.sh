#!/bin/sh
# tests/aot/sam_variants.sh - a trainer built with SAM's variants (GSAM,
# ASAM's eta and only, a rho schedule: mlp_sam_variants.lua) trains as the
# JIT does, bit for bit; --set of their run-time values (GSAM's alpha, eta,
# the rho schedule and its keys, a group's rho) changes its run as samc
# --set changes the JIT's; what is compiled in is refused.
#
#   sh tests/aot/sam_variants.sh SAMC SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skipped (no data set or no C compiler).
set -u
SAMC=$1
SRC=$2
MODEL=$SRC/tests/aot/mlp_sam_variants.lua
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

"$SAMC" build "$MODEL" --cpu native -q -o "$W/trainer" >"$W/build.out" 2>&1 ||
	{ cat "$W/build.out"; bad "samc build"; exit 1; }

# trainer == JIT, then with --set of the run-time values; each differs
# from the run before
same() { # name, checkpoint a, checkpoint b, checkpoint that must differ
	if cmp -s "$2" "$3" && ! cmp -s "$2" "$4"; then ok "$1"
	else bad "$1: trainer and JIT checkpoints differ (or --set changed nothing)"; fi
}
(cd "$W" && ./trainer $RUN --checkpoint-dir aot0) >"$W/run.out" 2>&1 &&
"$SAMC" "$MODEL" --backend cpu $RUN --checkpoint-dir "$W/jit0" >>"$W/run.out" 2>&1 ||
	{ cat "$W/run.out"; bad "trainer and samc run"; }
same "GSAM + ASAM(eta, weights) + rho following the lr: trainer == JIT, bit for bit" \
	"$W/aot0/last.safetensors" "$W/jit0/last.safetensors" /dev/null
S1="--set optimizer.sam.gsam.alpha=0.5 --set optimizer.sam.eta=0.1"
S1="$S1 --set optimizer.sam.rho_schedule.rho_min=0.2 --set optimizer.sam.groups[1].rho=0.4"
S2="--set optimizer.sam.rho_schedule.name=cosine --set optimizer.sam.rho_schedule.t_max=5"
i=1
for S in "$S1" "$S2"; do
	(cd "$W" && ./trainer $RUN --checkpoint-dir aot$i $S) >"$W/set.out" 2>&1 &&
	"$SAMC" "$MODEL" $S --backend cpu $RUN --checkpoint-dir "$W/jit$i" >>"$W/set.out" 2>&1 ||
		{ cat "$W/set.out"; bad "--set $S runs"; }
	same "trainer $S == samc --set, bit for bit" "$W/aot$i/last.safetensors" \
		"$W/jit$i/last.safetensors" "$W/aot0/last.safetensors"
	i=$((i + 1))
done

refused() { # name, pattern, --set value
	"$W/trainer" --set "$3" >/dev/null 2>"$W/err"; rc=$?
	[ $rc -eq 2 ] && grep -q "$2" "$W/err" && ok "$1" || bad "$1: exit $rc, $(cat "$W/err")"
}
refused "only is compiled in" "compiled into this trainer's steps" optimizer.sam.only=all
refused "eta = 0 is compiled in" "whether it is 0 is compiled into its steps" optimizer.sam.eta=0
refused "a key of another rho schedule" "does not apply to this trainer's rho schedule" \
	optimizer.sam.rho_schedule.gamma=0.5

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all SAM variant trainer checks passed"
