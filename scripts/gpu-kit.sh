#!/usr/bin/env bash
# gpu-kit.sh - prepares gpu-kit/ (ignored by git) for scripts/gpu-check.sh on
# a machine with an NVIDIA GPU that has the driver, the CUDA toolkit and
# PyTorch but none of samc's build dependencies. Run it here, then send the
# working tree with gpu-kit/ beside it (it stays under 64 MiB) and run
# scripts/gpu-check.sh there.
#
# gpu-kit/bin   CUDA trainers (samc build --device cuda) of fashion_mlp,
#               fashion_cnn, the benchmark MLPs and the flat model, each also
#               as a base trainer (SAM every 10^9 steps: base steps only);
#               fashion_mlp for 2 ranks (mlp_cuda_r2, sam.sync); a
#               CPU trainer of fashion_mlp for the CPU->GPU->CPU resume; and
#               test_nccl_gpu (NCCL on the GPU with one rank; it needs only libc
#               and opens the driver and NCCL itself)
# gpu-kit/lib   the trainers' shared libraries a bare machine lacks, gzipped
# gpu-kit/data  Fashion-MNIST
# gpu-kit/oracle  the bf16 oracle's cases with PyTorch's answers, and its
#               models as CUDA trainers that take samc steps' command line
#               (tests/oracle/aot_oracle.py), where this CPU gives a bf16
#               reference; bin/ also has cnn_bf16_cuda, fashion_cnn with
#               precision = "bf16"
# gpu-kit/ref   this machine's CPU results the GPU's are compared with: one
#               epoch of fashion_mlp and fashion_cnn, three of fashion_mlp, a
#               checkpoint after its first epoch, and fashion_cnn's first 20
#               steps in bf16 with every step's loss
#   scripts/gpu-kit.sh [--quick]   (--quick: no fashion_cnn CPU epoch)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${1:-}
scripts/build.sh >/dev/null
S=build/samc
K=gpu-kit
D=/usr/share/datasets/fashion-mnist
rm -rf "$K"
mkdir -p "$K/bin" "$K/lib" "$K/data" "$K/ref"
cp "$D"/*.gz "$K/data/"

build() { # NAME MODEL [samc build options...]
	local name=$1 model=$2
	shift 2
	"$S" build "$model" --quiet -o "$K/bin/$name" "$@"
}
base="--set optimizer.sam.every=1000000000"
build mlp_cuda examples/fashion_mlp.lua --device cuda
build cnn_cuda examples/fashion_cnn.lua --device cuda
for m in mlp_small mlp_medium; do
	build "${m}_cuda" "bench/models/$m.lua" --device cuda
	build "${m}_base_cuda" "bench/models/$m.lua" --device cuda $base
done
build cnn_base_cuda examples/fashion_cnn.lua --device cuda $base
build cnn_bf16_cuda examples/fashion_cnn.lua --device cuda --set precision=bf16
build flat_cuda bench/models/flat_sam.lua --device cuda
build flat_base_cuda bench/models/flat_sam.lua --device cuda $base
# two ranks with NCCL (gpu-check.sh runs it where there are 2 GPUs and an
# mpirun): synchronised SAM, one process's mathematics
build mlp_cuda_r2 examples/fashion_mlp.lua --device cuda --ranks 2 --set optimizer.sam.sync=true
build mlp_cpu examples/fashion_mlp.lua
cp build/tests/test_nccl_gpu "$K/bin/"

# the libraries of the trainers that are not part of a base system
for lib in $(ldd "$K/bin/mlp_cpu" | awk '/=>/ {print $3}'); do
	case $(basename "$lib") in
	libc.so* | libm.so* | libgcc_s.so* | libz.so* | ld-linux*) ;;
	*) gzip -9 -c "$lib" >"$K/lib/$(basename "$lib").gz" ;;
	esac
done

# CPU references
"$S" examples/fashion_mlp.lua --quiet --epochs 1 --metrics "$K/ref/mlp_1.jsonl"
"$S" examples/fashion_mlp.lua --quiet --epochs 3 --metrics "$K/ref/mlp_3.jsonl"
"$S" examples/fashion_mlp.lua --quiet --epochs 3 --stop-after 1 --checkpoint-dir "$K/ref/ck"
# the bf16 oracle (no cases where this CPU has no bf16 reference: exit 77)
if ! /usr/bin/python3 tests/oracle/aot_oracle.py write "$K/oracle" tests/oracle/models_bf16/*.lua \
	>/dev/null || ! /usr/bin/python3 tests/oracle/aot_oracle.py build "$K/oracle" --samc "$S" \
	tests/oracle/models_bf16/*.lua >/dev/null; then
	rm -rf "$K/oracle"
	echo "gpu-kit.sh: no bf16 oracle cases (no bf16 reference on this CPU, or a build failed)"
fi
# bf16: 20 steps (1280 images), each step's running mean loss, for the GPU's
# bf16 trainer to be held to (scripts/gpu-check.sh passes the same run keys)
"$S" examples/fashion_cnn.lua --quiet --epochs 1 --set precision=bf16 --set data.limit_train=1280 \
	--set data.limit_test=640 --set log_every=1 --metrics "$K/ref/cnn_bf16_steps.jsonl"
if [ "$quick" != --quick ]; then
	"$S" examples/fashion_cnn.lua --quiet --epochs 1 --metrics "$K/ref/cnn_1.jsonl"
fi
du -sh "$K"
