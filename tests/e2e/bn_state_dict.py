#!/usr/bin/python3
"""bn_state_dict.py - a checkpoint of a batch_norm model loads into the
equivalent torch.nn model and evaluates there as in samc.

Trains tests/e2e/models/bn_mlp.lua for one epoch on a subset of
Fashion-MNIST, drops the optimizer entries (opt.*) from its last checkpoint,
loads the rest into nn.Linear / nn.BatchNorm1d / nn.Linear with
load_state_dict(strict=True) (num_batches_tracked, which samc keeps in the
float dtype, becomes torch's int64 on the way in), and requires that the
model in eval mode gives samc's test loss and accuracy on the same images.

  /usr/bin/python3 tests/e2e/bn_state_dict.py SAMC [--backend cpu|interp] [--keep DIR]
Exit 77 when torch/numpy are not importable or samc lacks the backend.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "oracle"))
import e2e_util as u  # noqa: E402

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: torch/numpy not importable ({e})", file=sys.stderr)
    sys.exit(77)

import st  # noqa: E402
from torch_epoch import read_idx  # noqa: E402

MODEL = os.path.join(HERE, "models", "bn_mlp.lua")
DATA = "/usr/share/datasets/fashion-mnist"
NTEST = 512


class Net(torch.nn.Module):
    """bn_mlp.lua in torch.nn, with its state_dict names."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 64)
        self.bn1 = torch.nn.BatchNorm1d(64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn1(self.fc1(x))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--keep")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")):
        print("SKIP: no Fashion-MNIST", file=sys.stderr)
        return 77
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-bn-")
    os.makedirs(d, exist_ok=True)
    F_ = u.Failures()
    try:
        ck_dir, mpath = os.path.join(d, "ck"), os.path.join(d, "m.jsonl")
        r = u.run_samc(args.samc, [MODEL, "--backend", args.backend, "--epochs", "1", "--quiet",
                                   "--set", "data.limit_train=1280",
                                   "--set", f"data.limit_test={NTEST}",
                                   "--checkpoint-dir", ck_dir, "--metrics", mpath])
        if r[0] == 2 and "unknown backend" in r[2]:
            print(f"SKIP: {r[2].strip()}")
            return 77
        if not F_.expect_success("one epoch of bn_mlp.lua", r):
            return F_.status("bn_state_dict")
        with open(mpath) as f:
            epoch = [json.loads(line) for line in f if '"epoch"' in line and line.strip()]
        epoch = [e for e in epoch if e.get("kind") == "epoch"][-1]
        ck = st.read(os.path.join(ck_dir, "last.safetensors"))
        sd = {k: torch.from_numpy(np.array(v)) for k, v in ck.items() if not k.startswith("opt.")}
        F_.check(float(sd["bn1.num_batches_tracked"]) == 40.0,
                 "num_batches_tracked counts the 40 SAM steps once each",
                 repr(sd["bn1.num_batches_tracked"]))
        net = Net()
        try:
            res = net.load_state_dict(sd, strict=True)
            F_.check(not res.missing_keys and not res.unexpected_keys,
                     "load_state_dict(strict=True) takes the checkpoint", repr(res))
        except RuntimeError as e:
            F_.check(False, "load_state_dict(strict=True) takes the checkpoint", str(e))
            return F_.status("bn_state_dict")
        F_.check(net.bn1.num_batches_tracked.dtype == torch.int64 and
                 int(net.bn1.num_batches_tracked) == 40, "num_batches_tracked arrives as int64 40")
        net.eval()
        x = read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:NTEST]
        y = torch.from_numpy(read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:NTEST]
                             .astype(np.int64))
        x = (x.reshape(NTEST, -1).astype(np.float64) / 255 - 0.2860) / 0.3530
        with torch.no_grad():
            logits = net(torch.from_numpy(x.astype(np.float32)))
            loss = float(F.cross_entropy(logits, y))
            acc = float((logits.argmax(1) == y).double().mean())
        print(f"samc: test loss {epoch['test_loss']}, accuracy {epoch['test_accuracy']}; "
              f"torch eval: loss {loss:.9g}, accuracy {acc}")
        # f32 sums in another order: the loss to a few ulps of its terms, and
        # at most one image on the edge of an argmax
        F_.check(abs(loss - epoch["test_loss"]) <= 1e-5 * max(1.0, loss),
                 "the test loss in torch's eval mode is samc's")
        F_.check(abs(acc - epoch["test_accuracy"]) <= 1.0 / NTEST + 1e-12,
                 "the test accuracy in torch's eval mode is samc's")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F_.status("bn_state_dict")


if __name__ == "__main__":
    sys.exit(main())
