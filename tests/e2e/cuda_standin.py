#!/usr/bin/env python3
"""cuda_standin.py - `samc MODEL --device cuda` through the host stand-in for
the CUDA driver and cuBLAS (tests/cuda_standin; SAMC_CUDA_DRIVER and
SAMC_CUDA_BLAS name it), so the CUDA exec trains on a machine without a GPU:

  mlp      examples/fashion_mlp.lua on a subset of Fashion-MNIST trains on the
           CUDA device to the CPU's losses and accuracies (float32 tolerance:
           the kernels differ in summation order, not in what they compute);
  cache    the second run takes its PTX from the cache ($SAMC_CACHE_DIR): no
           NVRTC;
  resume   checkpoints are the same files on both devices: a run stopped on
           the CPU after epoch 1, resumed on the CUDA device for epoch 2 and
           back on the CPU for epoch 3 ends where three CPU epochs end;
  build    `samc build --device cuda -o trainer` embeds the PTX: the trainer
           links no LLVM, Lua, NVRTC or CUDA runtime (ldd) and trains through
           the stand-in to exactly what `samc --device cuda` reaches.
(`samc steps --backend cuda` is the oracle's: oracle_cuda_standin.)

  python3 tests/e2e/cuda_standin.py SAMC STANDIN

Standard library only; exit 77 without the stand-in, a host C++ compiler or
Fashion-MNIST.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

MODEL = u.here("..", "..", "examples", "fashion_mlp.lua")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
# float32 tolerances for the same steps computed in another order
LOSS_RTOL = 2e-3
ACC_ATOL = 0.02


def epochs(path):
    with open(path) as f:
        return [r for r in (json.loads(ln) for ln in f if ln.strip()) if r["kind"] == "epoch"]


def close(F, what, a, b):
    for key in ("train_loss", "test_loss"):
        F.check(abs(a[key] - b[key]) <= LOSS_RTOL * abs(b[key]),
                f"{what}: {key} {a[key]:.6f} vs {b[key]:.6f}", f"beyond rtol {LOSS_RTOL}")
    for key in ("train_accuracy", "test_accuracy"):
        F.check(abs(a[key] - b[key]) <= ACC_ATOL,
                f"{what}: {key} {a[key]:.4f} vs {b[key]:.4f}", f"beyond {ACC_ATOL}")


def main():
    samc, standin = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not os.access(standin, os.R_OK) or shutil.which("c++") is None:
        print(f"SKIP: no stand-in ({standin}) or no c++")
        return 77
    if not os.access(FASHION, os.R_OK):
        print(f"SKIP: {FASHION} not installed")
        return 77
    F = u.Failures()
    d = tempfile.mkdtemp(prefix="samc-e2e-cuda-")
    os.environ.update(SAMC_CUDA_DRIVER=standin, SAMC_CUDA_BLAS=standin,
                      SAMC_CACHE_DIR=os.path.join(d, "cache"))
    common = [MODEL, "--set", "data.limit_train=1280", "--set", "data.limit_test=512",
              "--log-every", "100"]
    try:
        # mlp: one epoch on each device
        got = {}
        for dev in ("cpu", "cuda"):
            m = os.path.join(d, f"{dev}.jsonl")
            r = u.run_samc(samc, common + ["--device", dev, "--metrics", m])
            F.check(r[0] == 0, f"--device {dev} trains", r[2])
            if r[0] == 0:
                got[dev] = (epochs(m), r[1])
        if len(got) == 2:
            F.check("samc: cuda: samc host stand-in (sm_90, driver 13.0), compute_90" in got["cuda"][1]
                    and "compiled by NVRTC" in got["cuda"][1], "the first run compiles its PTX",
                    got["cuda"][1])
            close(F, "fashion_mlp, cuda vs cpu", got["cuda"][0][-1], got["cpu"][0][-1])
        # cache: the same program again
        r = u.run_samc(samc, common + ["--device", "cuda"])
        F.check(r[0] == 0 and r[1].count("PTX from the cache") == 1,
                "the second run takes its PTX from the cache", r[1] + r[2])
        ptx = [f for f in os.listdir(os.path.join(d, "cache")) if f.endswith(".ptx")]
        F.check(len(ptx) == 2 and all(os.path.exists(os.path.join(d, "cache", p[:-4] + ".cu"))
                                      for p in ptx),
                "the cache holds a .ptx and its .cu per program (train, eval)", repr(ptx))
        # resume: CPU, then CUDA, then CPU
        three = common + ["--epochs", "3", "--set", "data.limit_train=640"]
        ref = os.path.join(d, "ref.jsonl")
        r = u.run_samc(samc, three + ["--device", "cpu", "--metrics", ref])
        F.check(r[0] == 0, "three CPU epochs", r[2])
        ck = os.path.join(d, "ckpt")
        last = os.path.join(ck, "last.safetensors")
        legs = [("cpu", ["--stop-after", "1"]), ("cuda", ["--stop-after", "2", "--resume", last]),
                ("cpu", ["--resume", last])]
        for i, (dev, extra) in enumerate(legs):
            m = os.path.join(d, f"leg{i}.jsonl")
            r = u.run_samc(samc, three + ["--device", dev, "--checkpoint-dir", ck, "--metrics", m]
                           + extra)
            F.check(r[0] == 0, f"epoch {i + 1} on {dev}", r[2])
        if r[0] == 0 and os.path.exists(ref):
            a, b = epochs(os.path.join(d, "leg2.jsonl")), epochs(ref)
            F.check(a[-1]["epoch"] == 3 and b[-1]["epoch"] == 3, "both runs end at epoch 3",
                    f"{a[-1]['epoch']} and {b[-1]['epoch']}")
            close(F, "cpu -> cuda -> cpu vs three cpu epochs", a[-1], b[-1])
            mid = epochs(os.path.join(d, "leg1.jsonl"))
            close(F, "epoch 2 on cuda vs on cpu", mid[-1], b[1])
        # build: a standalone CUDA trainer
        trainer = os.path.join(d, "trainer")
        r = u.run_samc(samc, ["build", MODEL, "--device", "cuda", "-o", trainer])
        F.check(r[0] == 0 and "CUDA kernels, PTX for compute_80,compute_90" in r[1],
                "samc build --device cuda", r[1] + r[2])
        if r[0] == 0:
            ldd = subprocess.run(["ldd", trainer], capture_output=True, text=True).stdout
            bad = [ln.split()[0] for ln in ldd.splitlines() if ln.split() and
                   ln.split()[0].startswith(("libLLVM", "liblua", "libnvrtc", "libcudart",
                                             "libcuda.", "libcublas"))]
            F.check(not bad, "the trainer links no LLVM, Lua, NVRTC or CUDA library", repr(bad))
            m = os.path.join(d, "trainer.jsonl")
            t = subprocess.run([trainer] + common[1:] + ["--metrics", m], capture_output=True,
                               text=True, timeout=300)
            F.check(t.returncode == 0 and "compiled cuda" in t.stdout, "the trainer trains on cuda",
                    t.stdout + t.stderr)
            if t.returncode == 0 and "cuda" in got:
                a, b = epochs(m)[-1], got["cuda"][0][-1]
                for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
                    F.check(a[key] == b[key], f"trainer: {key} {a[key]} as samc --device cuda's",
                            f"{b[key]}")
    finally:
        if F.count:
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return F.status("cuda_standin")


if __name__ == "__main__":
    sys.exit(main())
