#!/usr/bin/python3
"""cnn_state_dict.py - a samc checkpoint of examples/fashion_cnn.lua is a PyTorch
state_dict: it loads into the equivalent torch.nn model with
load_state_dict(strict=True) once the optimizer entries ("opt.*") are dropped,
and that model, in eval mode, gives the test accuracy samc reported.

  /usr/bin/python3 tests/e2e/cnn_state_dict.py SAMC [--train N] [--test N]

samc trains a short run (the first --train examples, one epoch) and evaluates
on the first --test test images; PyTorch evaluates the loaded model on the same
images, normalised as the recipe says. The accuracies must agree to within one
image in --test (float32 summation order may flip a near tie). Exit 1 on
failure, 77 when torch/numpy are not importable.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # depends on the machine
    print(f"SKIP: PyTorch/numpy not importable from {sys.executable} ({e})", file=sys.stderr)
    sys.exit(77)

import st  # noqa: E402

MODEL = os.path.join(ROOT, "examples", "fashion_cnn.lua")
DATA = "/usr/share/datasets/fashion-mnist/"
MEAN, STD = 0.2860, 0.3530  # examples/fashion_cnn.lua's data.mean, data.std


class FashionCNN(nn.Module):
    """examples/fashion_cnn.lua in torch.nn, with the same module names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.fc1 = nn.Linear(128 * 3 * 3, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.bn3(self.conv3(x))), 2)
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samc")
    ap.add_argument("--train", type=int, default=3840)
    ap.add_argument("--test", type=int, default=1000)
    a = ap.parse_args()
    if not os.path.exists(DATA + "t10k-images-idx3-ubyte.gz"):
        print(f"SKIP: no Fashion-MNIST under {DATA}", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "metrics.jsonl")
        cmd = [a.samc, MODEL, "--epochs", "1", "--quiet", "--checkpoint-dir", tmp,
               "--metrics", metrics, "--set", f"data.limit_train={a.train}",
               "--set", f"data.limit_test={a.test}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
            return 1
        epochs = [json.loads(l) for l in open(metrics) if '"kind":"epoch"' in l]
        samc_acc = epochs[-1]["test_accuracy"]
        tensors = st.read(os.path.join(tmp, "last.safetensors"))

    state = {k: torch.from_numpy(np.array(v)) for k, v in tensors.items()
             if not k.startswith("opt.")}
    model = FashionCNN()
    want = model.state_dict()
    for k, v in state.items():  # num_batches_tracked is int64 in torch
        if k in want and want[k].dtype != v.dtype:
            state[k] = v.to(want[k].dtype)
    model.load_state_dict(state, strict=True)  # raises on a missing or extra name
    model.eval()
    x = read_idx(DATA + "t10k-images-idx3-ubyte.gz")[:a.test].astype(np.float64)
    y = read_idx(DATA + "t10k-labels-idx1-ubyte.gz")[:a.test].astype(np.int64)
    x = ((x * (1 / 255) - MEAN) / STD).astype(np.float32)  # as samc: in double, then f32
    with torch.no_grad():
        pred = model(torch.from_numpy(x).reshape(-1, 1, 28, 28)).argmax(1).numpy()
    torch_acc = float((pred == y).mean())
    print(f"test accuracy on {a.test} images: samc {samc_acc:.4f}, PyTorch with samc's "
          f"state_dict {torch_acc:.4f}; {len(state)} tensors loaded strictly "
          f"({len(tensors) - len(state)} optimizer entries dropped)")
    if abs(samc_acc - torch_acc) > 1.0 / a.test + 1e-9:
        print("FAIL: the accuracies differ by more than one image")
        return 1
    if samc_acc < 0.6:
        print("FAIL: the short run did not learn (accuracy < 60%)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
