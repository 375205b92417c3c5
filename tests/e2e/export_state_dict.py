#!/usr/bin/python3
"""export_state_dict.py - `samc export` writes weights that torch.nn takes
with load_state_dict(strict=True) and that evaluate there as in samc.

Trains tests/e2e/models/bn_mlp.lua for one epoch on a subset of
Fashion-MNIST, exports its last checkpoint, and requires: no optimizer
entries, metadata {"format": "pt"} only, num_batches_tracked as int64, a
strict load into nn.Linear / nn.BatchNorm1d / nn.Linear with nothing
converted on the way, and samc's test loss and accuracy from the model in
eval mode. Then a missing, a truncated, a corrupted checkpoint and a file
that is not a checkpoint are each an error naming the file and the fault.

  /usr/bin/python3 tests/e2e/export_state_dict.py SAMC [--keep DIR]
Exit 77 when torch/numpy are not importable.
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
from bn_state_dict import DATA, MODEL, NTEST, Net  # noqa: E402
from torch_epoch import read_idx  # noqa: E402


def check_errors(F_, samc, d, ck):
    """Each bad input is exit 1 with the file's name and what is wrong."""
    missing = os.path.join(d, "missing.safetensors")
    F_.expect_error("a missing checkpoint", u.run_samc(samc, ["export", missing, "-o",
                                                              os.path.join(d, "x")]),
                    [missing, "No such file"])
    with open(ck, "rb") as f:
        raw = f.read()
    cut = os.path.join(d, "cut.safetensors")
    with open(cut, "wb") as f:
        f.write(raw[: len(raw) // 2])
    F_.expect_error("a truncated checkpoint",
                    u.run_samc(samc, ["export", cut, "-o", os.path.join(d, "x")]),
                    [cut, "truncated"])
    bad = os.path.join(d, "bad.safetensors")
    flipped = bytearray(raw)
    flipped[-5] ^= 0x40  # a bit of the last tensor's data
    with open(bad, "wb") as f:
        f.write(flipped)
    F_.expect_error("a corrupted checkpoint",
                    u.run_samc(samc, ["export", bad, "-o", os.path.join(d, "x")]),
                    [bad, "corrupted (checksum mismatch"])
    other = os.path.join(d, "other.safetensors")
    st.write(other, {"w": np.zeros(3, np.float32)})
    F_.expect_error("a file that is not a checkpoint",
                    u.run_samc(samc, ["export", other, "-o", os.path.join(d, "x")]),
                    [other, "not a samc checkpoint"])
    F_.check(not os.path.exists(os.path.join(d, "x")), "a failed export writes nothing")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--keep")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")):
        print("SKIP: no Fashion-MNIST", file=sys.stderr)
        return 77
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-export-")
    os.makedirs(d, exist_ok=True)
    F_ = u.Failures()
    try:
        ck_dir, mpath = os.path.join(d, "ck"), os.path.join(d, "m.jsonl")
        r = u.run_samc(args.samc, [MODEL, "--epochs", "1", "--quiet",
                                   "--set", "data.limit_train=1280",
                                   "--set", f"data.limit_test={NTEST}",
                                   "--checkpoint-dir", ck_dir, "--metrics", mpath])
        if not F_.expect_success("one epoch of bn_mlp.lua", r):
            return F_.status("export_state_dict")
        with open(mpath) as f:
            epoch = [json.loads(line) for line in f if line.strip()]
        epoch = [e for e in epoch if e.get("kind") == "epoch"][-1]
        ck = os.path.join(ck_dir, "last.safetensors")
        wpath = os.path.join(d, "weights.safetensors")
        r = u.run_samc(args.samc, ["export", ck, "-o", wpath])
        if not F_.expect_success("samc export", r):
            return F_.status("export_state_dict")
        F_.check("9 tensors" in r[1], "export says what it wrote", r[1])
        w, meta = st.read_with_meta(wpath)
        F_.check(meta == {"format": "pt"}, "the only metadata is the format note", repr(meta))
        F_.check(not any(k.startswith("opt.") for k in w), "no optimizer state", sorted(w))
        F_.check(w["bn1.num_batches_tracked"].dtype == np.int64 and
                 int(w["bn1.num_batches_tracked"]) == 40, "num_batches_tracked is int64 40",
                 repr(w["bn1.num_batches_tracked"]))
        sd = {k: torch.from_numpy(np.array(v)) for k, v in w.items()}
        net = Net()
        want = {k: v.dtype for k, v in net.state_dict().items()}
        F_.check({k: v.dtype for k, v in sd.items()} == want,
                 "every tensor has torch.nn's name and dtype",
                 repr({k: v.dtype for k, v in sd.items()}))
        try:
            res = net.load_state_dict(sd, strict=True)
            F_.check(not res.missing_keys and not res.unexpected_keys,
                     "load_state_dict(strict=True) takes the export", repr(res))
        except RuntimeError as e:
            F_.check(False, "load_state_dict(strict=True) takes the export", str(e))
            return F_.status("export_state_dict")
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
              f"torch eval of the export: loss {loss:.9g}, accuracy {acc}")
        # f32 sums in another order: the loss to a few ulps of its terms, and
        # at most one image on the edge of an argmax
        F_.check(abs(loss - epoch["test_loss"]) <= 1e-5 * max(1.0, loss),
                 "the test loss in torch's eval mode is samc's")
        F_.check(abs(acc - epoch["test_accuracy"]) <= 1.0 / NTEST + 1e-12,
                 "the test accuracy in torch's eval mode is samc's")
        check_errors(F_, args.samc, d, ck)
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F_.status("export_state_dict")


if __name__ == "__main__":
    sys.exit(main())
