#!/usr/bin/python3
"""nccl_train.py - `samc model.lua --device cuda` and a trainer built with
`samc build --ranks 2 --device cuda` on 2 ranks with NCCL, through the host
stand-ins for the CUDA driver, cuBLAS and NCCL.

examples/fashion_mlp.lua in f32 on a subset of Fashion-MNIST, SAM with
optimizer.sam.sync = true, one epoch:

  samc     2 ranks on cuda (2 stand-in GPUs, SAMC_NCCL = the stand-in):
           rank 0 says it sums on NCCL, the stand-in logged one
           ncclAllReduce of every parameter per accumulator kind a step on
           each rank, and the epoch's losses and accuracies are the cpu
           backend's on 2 ranks within the float32 tolerances of the
           CUDA-vs-CPU test (tests/e2e/cuda_standin.py)
  trainer  the same on the trainer: NCCL too, and the metrics samc's on
           cuda on 2 ranks exactly (the same kernels, the same sums)

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" SAMC_NCCL_LIB=... \\
    /usr/bin/python3 tests/dist/nccl_train.py --samc build/samc

Standard library only; exit 77 without SAMC_MPIRUN, the stand-ins, c++ or
the data set.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e_util as u  # noqa: E402

MODEL = os.path.join(HERE, "..", "..", "examples", "fashion_mlp.lua")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
# float32 tolerances for the same steps computed in another order (as
# tests/e2e/cuda_standin.py's)
LOSS_RTOL = 2e-3
ACC_ATOL = 0.02
KINDS = 2  # accum.grad and accum.sam a step under sam.sync


def epochs(path):
    with open(path) as f:
        return [r for r in (json.loads(ln) for ln in f if ln.strip()) if r["kind"] == "epoch"]


def calls(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [ln.split() for ln in f if ln.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    args = ap.parse_args()
    launcher, nccl = os.environ.get("SAMC_MPIRUN"), os.environ.get("SAMC_NCCL_LIB")
    if not launcher or not nccl or not os.environ.get("SAMC_CUDA_DRIVER"):
        print("SKIP: SAMC_MPIRUN, SAMC_NCCL_LIB or SAMC_CUDA_DRIVER is not set "
              "(tests/dist/step.cmake sets them)", file=sys.stderr)
        return 77
    if shutil.which("c++") is None or not os.access(FASHION, os.R_OK):
        print(f"SKIP: no c++ (the driver stand-in compiles kernels) or no {FASHION}")
        return 77
    samc = os.path.abspath(args.samc)
    mpi = shlex.split(launcher) + ["-np", "2"]
    F = u.Failures()
    batch, ntrain = 128, 1024
    steps = ntrain // batch
    common = ["--set", f"data.limit_train={ntrain}", "--set", "data.limit_test=256",
              "--set", "optimizer.sam.sync=true", "--set", f"batch_size={batch}"]
    with tempfile.TemporaryDirectory() as d:
        p = lambda *a: os.path.join(d, *a)  # noqa: E731
        env = dict(os.environ, SAMC_STANDIN_GPUS="2", TMPDIR=d, SAMC_NCCL=nccl)

        def ranks(tag, cmd, dev_env):
            log = p(tag + ".log")
            full = dict(dev_env, SAMC_NCCL_STANDIN_LOG=log) if dev_env else None
            r = subprocess.run(mpi + cmd + ["--metrics", p(tag + ".jsonl"), "--epochs", "1",
                                            "--log-every", "100"],
                               capture_output=True, text=True, timeout=300, env=full)
            ok = F.expect_success(f"{tag} on 2 ranks", (r.returncode, r.stdout, r.stderr))
            return (epochs(p(tag + ".jsonl"))[-1] if ok else None), calls(log), r

        def took_nccl(tag, log, r, nparams):
            per = [[c for c in log if c[1] == str(k)] for k in (0, 1)]
            F.check(all(len(x) == KINDS * steps and all(c[2] == str(nparams) for c in x)
                        for x in per),
                    f"{tag}: one ncclAllReduce of the {nparams} parameters per accumulator kind "
                    f"a step on each rank ({KINDS * steps} a rank)", f"{log[:6]}...")
            F.check("NCCL 2.28.9, rank 0 on GPU 0 (the GPUs' sums)" in r.stdout,
                    f"{tag}: rank 0 says it sums on NCCL", r.stdout)

        cpu, _, _ = ranks("cpu", [samc, MODEL, "--device", "cpu"] + common, None)
        cuda, log, r = ranks("cuda", [samc, MODEL, "--device", "cuda"] + common, env)
        nparams = 784 * 256 + 256 + 256 * 10 + 10  # fashion_mlp's linear layers
        if cuda:
            took_nccl("samc", log, r, nparams)
        if cpu and cuda:
            for key in ("train_loss", "test_loss"):
                F.check(abs(cuda[key] - cpu[key]) <= LOSS_RTOL * abs(cpu[key]),
                        f"cuda with NCCL vs cpu, 2 ranks: {key} {cuda[key]:.6f} vs "
                        f"{cpu[key]:.6f}", f"beyond rtol {LOSS_RTOL}")
            for key in ("train_accuracy", "test_accuracy"):
                F.check(abs(cuda[key] - cpu[key]) <= ACC_ATOL,
                        f"cuda with NCCL vs cpu, 2 ranks: {key} {cuda[key]:.4f} vs "
                        f"{cpu[key]:.4f}", f"beyond {ACC_ATOL}")
        tr = p("trainer")
        b = u.run_samc(samc, ["build", MODEL] + common + ["--ranks", "2", "--device", "cuda",
                                                          "-o", tr, "--quiet"])
        if F.expect_success("samc build --ranks 2 --device cuda", b):
            t, log, r = ranks("trainer", [tr], env)  # its recipe is common's
            if t:
                took_nccl("trainer", log, r, nparams)
            if t and cuda:
                for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
                    F.check(t[key] == cuda[key], f"trainer: {key} {t[key]} as samc's on cuda",
                            f"{cuda[key]}")
    return F.status("nccl train")


if __name__ == "__main__":
    sys.exit(main())
