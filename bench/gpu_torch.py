"""gpu_torch.py - the GPU's limits and PyTorch's eager SAM optimizer part, for
the GPU benchmark (scripts/gpu-check.sh, bench/gpu.py).

  copy   the device's copy bandwidth: y.copy_(x) on 1 GiB float32 tensors,
         bytes counted as read + written (2 per byte copied), best of the
         repetitions, timed with CUDA events.
  optim  SAM's optimizer part on one flat float32 parameter of N elements
         with a gradient in place: the davda54 class's first_step (norm,
         perturb in place, save the old weights) + second_step (restore,
         SGD with momentum), torch.optim.SGD with foreach (its multi-tensor
         path), the way people run SAM today; and the bytes an ideal fused
         kernel pair would move for the same work (norm: read g; update:
         read w, g2, buf, write w, buf), against the copy bandwidth.

Prints JSON lines. Needs PyTorch with CUDA and a GPU.
  python3 bench/gpu_torch.py copy
  python3 bench/gpu_torch.py optim --n 67108864
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_sam import SAM  # noqa: E402  the same eager SAM as the CPU benchmark


def timed(fn, reps, warmup=3):
    """Milliseconds per call of fn, per repetition, with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        out.append(a.elapsed_time(b))
    return out


def copy_bandwidth(reps):
    n = (1 << 30) // 4
    x = torch.rand(n, device="cuda")
    y = torch.empty_like(x)
    ms = timed(lambda: y.copy_(x), reps)
    best = min(ms)
    return {"cmd": "copy", "bytes": 2 * 4 * n, "best_ms": best,
            "gb_per_s": 2 * 4 * n / best / 1e6}


def optim_part(n, reps):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(n, device="cuda") * 0.01)
    opt = SAM([w], torch.optim.SGD, rho=0.05, lr=0.05, momentum=0.9, foreach=True)
    g = torch.randn(n, device="cuda") * 1e-3

    def step():
        w.grad = g.clone()
        opt.first_step()
        w.grad = g.clone()  # the second pass's gradient, already computed
        opt.second_step()

    # the clones are not SAM's work: time them alone and take them off
    clones = timed(lambda: (g.clone(), g.clone()), reps)
    ms = timed(step, reps)
    best = max(min(ms) - min(clones), 1e-6)
    ideal = 4 * n * 6  # read g (norm); read w, g2, buf; write w, buf
    return {"cmd": "optim", "n": n, "best_ms": best, "median_ms": sorted(ms)[len(ms) // 2],
            "ideal_bytes": ideal, "gb_per_s_equiv": ideal / best / 1e6}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["copy", "optim"])
    ap.add_argument("--n", type=int, default=64 << 20)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_torch.py: PyTorch sees no CUDA device")
    rec = copy_bandwidth(a.reps) if a.what == "copy" else optim_part(a.n, a.reps)
    rec["device"] = torch.cuda.get_device_name(0)
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
