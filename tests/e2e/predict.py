#!/usr/bin/python3
"""predict.py - `samc predict` writes the eval program's predictions.

Trains tests/e2e/models/bn_mlp.lua for one epoch on a subset of
Fashion-MNIST with a test split that is not a multiple of the batch (the
last batch is padded), then predicts on that test split, from the
checkpoint and from `samc export`'s weights, into .npy and safetensors,
and on the same images given as IDX files with --data. The fraction of
predicted classes equal to the labels must be the run's test accuracy
exactly, and the logits' mean cross-entropy its test loss to float
rounding. Then a missing weights file, another model's weights (a missing
tensor, a shape that differs) and a broken data file are each exit 1 with
a message naming them.

  /usr/bin/python3 tests/e2e/predict.py SAMC [--keep DIR]
Exit 77 when numpy is not importable or Fashion-MNIST is absent.
"""

import argparse
import gzip
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
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: numpy not importable ({e})", file=sys.stderr)
    sys.exit(77)

import st  # noqa: E402

MODEL = os.path.join(HERE, "models", "bn_mlp.lua")
DATA = "/usr/share/datasets/fashion-mnist"
NTEST = 1000  # 31 batches of 32 and 8 real rows in the last


def read_idx_raw(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def cross_entropy(logits, y):
    z = logits.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    return float((lse - z[np.arange(len(y)), y]).mean())


def check_predictions(F_, what, logits, classes, y, epoch):
    F_.check(logits.shape == (NTEST, 10) and logits.dtype == np.float32,
             f"{what}: logits float32 [{NTEST}, 10]", f"{logits.dtype} {logits.shape}")
    F_.check(classes.shape == (NTEST,) and classes.dtype == np.int64,
             f"{what}: classes int64 [{NTEST}]", f"{classes.dtype} {classes.shape}")
    F_.check(np.array_equal(classes, logits.argmax(axis=1)),
             f"{what}: classes are the logits' first maximum")
    acc = float((classes == y).sum()) / NTEST
    F_.check(acc == epoch["test_accuracy"], f"{what}: accuracy is the run's test accuracy",
             f"{acc} vs {epoch['test_accuracy']}")
    loss = cross_entropy(logits, y)
    F_.check(abs(loss - epoch["test_loss"]) <= 1e-6 * max(1.0, loss),
             f"{what}: cross-entropy is the run's test loss", f"{loss!r} vs {epoch['test_loss']!r}")
    return loss, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--keep")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")):
        print("SKIP: no Fashion-MNIST", file=sys.stderr)
        return 77
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-predict-")
    os.makedirs(d, exist_ok=True)
    F_ = u.Failures()
    samc = args.samc
    limit = ["--set", f"data.limit_test={NTEST}"]
    try:
        ck_dir, mpath = os.path.join(d, "ck"), os.path.join(d, "m.jsonl")
        r = u.run_samc(samc, [MODEL, "--epochs", "1", "--quiet", "--set", "data.limit_train=1280",
                              *limit, "--checkpoint-dir", ck_dir, "--metrics", mpath])
        if not F_.expect_success("one epoch of bn_mlp.lua", r):
            return F_.status("predict")
        with open(mpath) as f:
            epoch = [e for e in (json.loads(line) for line in f if line.strip())
                     if e.get("kind") == "epoch"][-1]
        ck = os.path.join(ck_dir, "last.safetensors")
        y = np.frombuffer(read_idx_raw(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[8:],
                          np.uint8)[:NTEST].astype(np.int64)

        # the recipe's test split, the checkpoint's weights, .npy
        out = os.path.join(d, "pred.npy")
        r = u.run_samc(samc, ["predict", MODEL, "--weights", ck, "-o", out, *limit])
        if F_.expect_success("predict from the checkpoint into .npy", r):
            loss, acc = check_predictions(F_, "checkpoint, .npy",
                                          np.load(os.path.join(d, "pred-logits.npy")),
                                          np.load(os.path.join(d, "pred-classes.npy")), y, epoch)
            print(f"run: test loss {epoch['test_loss']!r} accuracy {epoch['test_accuracy']}; "
                  f"predictions: loss {loss!r} accuracy {acc}")

        # the export's weights, the images and labels as --data files, safetensors
        w = os.path.join(d, "weights.safetensors")
        F_.expect_success("samc export", u.run_samc(samc, ["export", ck, "-o", w]))
        img = read_idx_raw(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))
        xs, ys = os.path.join(d, "x.idx"), os.path.join(d, "y.idx")
        u.write_idx(xs, [NTEST, 28, 28], img[16:16 + NTEST * 784])
        u.write_idx(ys, [NTEST], bytes(y.astype(np.uint8)))
        out = os.path.join(d, "pred.safetensors")
        r = u.run_samc(samc, ["predict", MODEL, "--weights", w, "--data", f"x={xs}",
                              "--data", f"y={ys}", "-o", out])
        if F_.expect_success("predict from the export on --data files into safetensors", r):
            p = st.read(out)
            F_.check(sorted(p) == ["classes", "logits"], "safetensors: logits and classes",
                     repr(sorted(p)))
            check_predictions(F_, "export, --data, safetensors", p["logits"], p["classes"], y,
                              epoch)

        # errors: each exit 1, naming the file and the fault
        x = os.path.join(d, "x")
        missing = os.path.join(d, "missing.safetensors")
        F_.expect_error("missing weights", u.run_samc(samc, ["predict", MODEL, "--weights",
                                                             missing, "-o", x]), [missing])
        other = os.path.join(d, "other.safetensors")
        st.write(other, {"w": np.zeros(3, np.float32)})
        F_.expect_error("another model's weights",
                        u.run_samc(samc, ["predict", MODEL, "--weights", other, "-o", x]),
                        [other, "no tensor 'fc", "not the weights of this model"])
        wide = os.path.join(d, "wide.safetensors")
        t = st.read(w)
        t["fc2.weight"] = np.zeros((12, 64), np.float32)
        st.write(wide, t)
        F_.expect_error("weights of another shape",
                        u.run_samc(samc, ["predict", MODEL, "--weights", wide, "-o", x]),
                        [wide, "'fc2.weight' has shape [12,64]", "[10,64]"])
        cut = os.path.join(d, "cut.idx")
        with open(xs, "rb") as f:
            raw = f.read()
        u.write_bytes(cut, raw[: len(raw) // 2])
        F_.expect_error("a truncated data file",
                        u.run_samc(samc, ["predict", MODEL, "--weights", w, "--data", f"x={cut}",
                                          "--data", f"y={ys}", "-o", x]), [cut])
        F_.expect_error("an input without a file",
                        u.run_samc(samc, ["predict", MODEL, "--weights", w, "--data", f"x={xs}",
                                          "-o", x]), ["input 'y' has no file", "--data y=FILE"])
        F_.check(not os.path.exists(x), "a failed predict writes nothing")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F_.status("predict")


if __name__ == "__main__":
    sys.exit(main())
