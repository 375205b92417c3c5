#!/usr/bin/env python3
"""bf16_epoch.py - precision = "bf16" trains as well as f32: one epoch of
examples/fashion_cnn.lua on all of Fashion-MNIST in f32 and in bf16 (the
same seed, weights and batches), whose test accuracies must lie within
0.5 points of each other.

  python3 tests/e2e/bf16_epoch.py SAMC [--backend cpu] [--short]

--short: the first 6,400 training and 2,000 test images (a quick check of
the plumbing, with a bound of 2 points: at 2,000 test images one point is
20 images). Exit 77 when Fashion-MNIST is not installed. Standard library
only.
"""

import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import e2e_util as u  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def epoch(samc, precision, extra, timeout):
    """The test accuracy after one epoch, or None (printed why)."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "metrics.jsonl")
        t0 = time.time()
        rc, out, err = u.run_samc(samc, [os.path.join(ROOT, "examples", "fashion_cnn.lua"),
                                         "--epochs", "1", "--set", f"precision={precision}",
                                         "--metrics", metrics, "--quiet"] + extra,
                                  timeout=timeout)
        if rc != 0:
            print(f"FAIL: {precision}: samc exited {rc}: {err}")
            return None
        e = [json.loads(line) for line in open(metrics) if '"kind":"epoch"' in line][-1]
    print(f"{precision}: test accuracy {e['test_accuracy']:.4f}, train loss "
          f"{e['train_loss']:.4f}, {time.time() - t0:.0f} s, {e['samples_per_s']:.0f} samples/s")
    return e["test_accuracy"]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    samc, args = sys.argv[1], sys.argv[2:]
    short = "--short" in args
    extra = []
    if "--backend" in args:
        extra += ["--backend", args[args.index("--backend") + 1]]
    if short:
        extra += ["--set", "data.limit_train=6400", "--set", "data.limit_test=2000"]
    if not os.path.exists(FASHION):
        print(f"SKIP: no Fashion-MNIST at {FASHION}")
        return 77
    bound = 0.02 if short else 0.005
    f32 = epoch(samc, "f32", extra, 3600)
    bf16 = epoch(samc, "bf16", extra, 3600)
    if f32 is None or bf16 is None:
        return 1
    diff = abs(bf16 - f32)
    print(f"bf16 - f32: {100 * (bf16 - f32):+.2f} points (at most {100 * bound:.1f})")
    if diff > bound:
        print("FAIL: bf16's accuracy is too far from f32's")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
