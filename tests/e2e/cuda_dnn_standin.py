#!/usr/bin/env python3
"""cuda_dnn_standin.py - convolutions on the CUDA device as cuDNN calls,
through the host stand-ins for the driver and cuBLAS (tests/cuda_standin)
and for cuDNN (tests/cudnn_standin; SAMC_CUDA_DNN names it):

  cnn      tests/e2e/models/tiny_cnn.lua, 32 steps on a subset of
           Fashion-MNIST: `--device cuda` reaches the CPU's losses and
           accuracies within float32 tolerance, and its convolutions ran
           through cuDNN (the stand-in's counts: forward, backward data and
           backward filter);
  nodnn    with SAMC_CUDA_DNN naming no library, the conv net exits 1 with
           a message naming libcudnn's stand-in path and SAMC_CUDA_DNN,
           while a model without convolutions trains (it never opens cuDNN);
  build    `samc build --device cuda -o trainer` of the conv net: the
           trainer runs its convolutions through cuDNN too, to exactly what
           `samc --device cuda` reaches.

  python3 tests/e2e/cuda_dnn_standin.py SAMC STANDIN CUDNN_STANDIN

Standard library only; exit 77 without the stand-ins, a host C++ compiler or
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

CNN = u.here("models", "tiny_cnn.lua")
MLP = u.here("..", "..", "examples", "fashion_mlp.lua")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
# float32 tolerances for the same steps computed in another order
LOSS_RTOL = 2e-3
ACC_ATOL = 0.02


def epochs(path):
    with open(path) as f:
        return [r for r in (json.loads(ln) for ln in f if ln.strip()) if r["kind"] == "epoch"]


def runs(path):
    """The stand-in's convolution runs, summed over the processes that
    appended to path since it was removed: [forward, bwd data, bwd filter]."""
    got = [0, 0, 0]
    if os.path.exists(path):
        with open(path) as f:
            for ln in f:
                w = ln.split()
                if w[:2] == ["cudnn", "runs"]:
                    got = [a + int(b) for a, b in zip(got, w[2:5])]
        os.remove(path)
    return got


def main():
    samc, standin, dnn = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    if not all(os.access(p, os.R_OK) for p in (standin, dnn)) or shutil.which("c++") is None:
        print(f"SKIP: no stand-in ({standin}, {dnn}) or no c++")
        return 77
    if not os.access(FASHION, os.R_OK):
        print(f"SKIP: {FASHION} not installed")
        return 77
    F = u.Failures()
    d = tempfile.mkdtemp(prefix="samc-e2e-cudnn-")
    counts = os.path.join(d, "cudnn_runs.txt")
    os.environ.update(SAMC_CUDA_DRIVER=standin, SAMC_CUDA_BLAS=standin, SAMC_CUDA_DNN=dnn,
                      SAMC_CACHE_DIR=os.path.join(d, "cache"), CUDNN_STANDIN_COUNTS=counts)
    common = ["--set", "data.limit_train=512", "--set", "data.limit_test=256",
              "--log-every", "100"]
    try:
        # cnn: one epoch (32 steps) on each device
        got = {}
        for dev in ("cpu", "cuda"):
            m = os.path.join(d, f"{dev}.jsonl")
            r = u.run_samc(samc, [CNN] + common + ["--device", dev, "--metrics", m])
            F.check(r[0] == 0, f"tiny_cnn: --device {dev} trains", r[2])
            if r[0] == 0:
                got[dev] = epochs(m)[-1]
            n = runs(counts)
            if dev == "cpu":
                F.check(n == [0, 0, 0], "the CPU run does not open cuDNN", repr(n))
            else:
                F.check(min(n) >= 32, "tiny_cnn on cuda: every convolution op ran through cuDNN "
                        "(32 steps)", repr(n))
                print(f"tiny_cnn on cuda: cuDNN forward {n[0]}, backward data {n[1]}, "
                      f"backward filter {n[2]}")
        if len(got) == 2:
            a, b = got["cuda"], got["cpu"]
            for key in ("train_loss", "test_loss"):
                F.check(abs(a[key] - b[key]) <= LOSS_RTOL * abs(b[key]),
                        f"tiny_cnn cuda vs cpu: {key} {a[key]:.6f} vs {b[key]:.6f}",
                        f"beyond rtol {LOSS_RTOL}")
            for key in ("train_accuracy", "test_accuracy"):
                F.check(abs(a[key] - b[key]) <= ACC_ATOL,
                        f"tiny_cnn cuda vs cpu: {key} {a[key]:.4f} vs {b[key]:.4f}",
                        f"beyond {ACC_ATOL}")
        # nodnn: no cuDNN where SAMC_CUDA_DNN points
        env = dict(os.environ, SAMC_CUDA_DNN=os.path.join(d, "no", "libcudnn.so.9"))
        r = subprocess.run([samc, CNN] + common + ["--device", "cuda"], capture_output=True,
                           text=True, timeout=300, env=env)
        F.check(r.returncode == 1 and "libcudnn.so.9" in r.stderr and "SAMC_CUDA_DNN" in r.stderr
                and "cuDNN" in r.stderr, "a conv net without cuDNN names it and SAMC_CUDA_DNN",
                f"exit {r.returncode}: {r.stderr}")
        r = subprocess.run([samc, MLP, "--device", "cuda", "--set", "data.limit_train=256",
                            "--set", "data.limit_test=128"], capture_output=True, text=True,
                           timeout=300, env=env)
        F.check(r.returncode == 0, "a model without convolutions trains without cuDNN",
                r.stderr)
        runs(counts)
        # build: a standalone CUDA trainer of the conv net
        trainer = os.path.join(d, "trainer")
        r = u.run_samc(samc, ["build", CNN, "--device", "cuda", "-o", trainer])
        F.check(r[0] == 0, "samc build --device cuda of a conv net", r[1] + r[2])
        if r[0] == 0:
            m = os.path.join(d, "trainer.jsonl")
            t = subprocess.run([trainer] + common + ["--metrics", m], capture_output=True,
                               text=True, timeout=300)
            F.check(t.returncode == 0 and "compiled cuda" in t.stdout,
                    "the trainer trains on cuda", t.stdout + t.stderr)
            n = runs(counts)
            F.check(min(n) >= 32, "the trainer's convolutions ran through cuDNN", repr(n))
            if t.returncode == 0 and "cuda" in got:
                a, b = epochs(m)[-1], got["cuda"]
                for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
                    F.check(a[key] == b[key], f"trainer: {key} {a[key]} as samc --device cuda's",
                            f"{b[key]}")
    finally:
        if F.count:
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    return F.status("cuda_dnn_standin")


if __name__ == "__main__":
    sys.exit(main())
