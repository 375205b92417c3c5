#!/usr/bin/python3
"""ema_eval.py - a run with an EMA of the weights (and LookSAM) evaluates,
exports and predicts with the EMA weights, and a built trainer takes their
run-time keys.

Trains tests/e2e/models/bn_mlp.lua for one epoch on a subset of
Fashion-MNIST with --set ema.decay=0.9 and LookSAM (k = 3), and requires:
  - the checkpoint holds ema.<param> and opt.<param>.looksam_gv, the EMA
    unlike the weights;
  - `samc export` writes each parameter as its EMA (byte for byte), no
    ema.* names, and torch.nn evaluates the export (with the run's own
    BatchNorm statistics) to samc's test loss and accuracy, which the raw
    weights do not give;
  - `samc predict` from the checkpoint gives the export's logits exactly;
  - a trainer built with them takes --set ema.decay and
    optimizer.sam.looksam.alpha and trains as samc given the same --set,
    bit for bit; looksam.k is refused as compiled in.
Resume with both is resume.py's (e2e_resume_looksam_ema_cpu).

  /usr/bin/python3 tests/e2e/ema_eval.py SAMC [--keep DIR]
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

SETS = ["--set", "ema.decay=0.9", "--set", "optimizer.sam.looksam.k=3",
        "--set", "optimizer.sam.looksam.alpha=0.5"]
COMMON = ["--epochs", "1", "--quiet", "--threads", "2", "--set", "data.limit_train=1280",
          "--set", f"data.limit_test={NTEST}"]
PARAMS = ["fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias"]


def last_epoch(path):
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return [e for e in recs if e.get("kind") == "epoch"][-1]


def torch_eval(sd):
    """Test loss and accuracy of bn_mlp.lua in torch.nn's eval mode."""
    net = Net()
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()}, strict=True)
    net.eval()
    x = read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))[:NTEST]
    y = torch.from_numpy(read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))[:NTEST]
                         .astype(np.int64))
    x = (x.reshape(NTEST, -1).astype(np.float64) / 255 - 0.2860) / 0.3530
    with torch.no_grad():
        logits = net(torch.from_numpy(x.astype(np.float32)))
        return (float(F.cross_entropy(logits, y)),
                float((logits.argmax(1) == y).double().mean()))


def check_export(F_, samc, d, ck, epoch):
    c = st.read(ck)
    for p in PARAMS:
        F_.check(f"ema.{p}" in c and f"opt.{p}.looksam_gv" in c,
                 f"the checkpoint holds ema.{p} and opt.{p}.looksam_gv", repr(sorted(c)))
    F_.check(not np.array_equal(c["ema.fc1.weight"], c["fc1.weight"]),
             "the EMA is not the weights")
    w = os.path.join(d, "weights.safetensors")
    if not F_.expect_success("samc export", u.run_samc(samc, ["export", ck, "-o", w])):
        return None
    e = st.read(w)
    F_.check(not any(k.startswith("ema.") or k.startswith("opt.") for k in e),
             "no ema.* or opt.* names in the export", repr(sorted(e)))
    for p in PARAMS:
        F_.check(e[p].tobytes() == c[f"ema.{p}"].tobytes(), f"the export's {p} is its EMA")
    F_.check(e["bn1.running_mean"].tobytes() == c["bn1.running_mean"].tobytes(),
             "BatchNorm's statistics are the model's own")
    loss, acc = torch_eval(e)
    raw = dict(e)
    raw.update({p: c[p] for p in PARAMS})
    raw_loss, _ = torch_eval(raw)
    print(f"samc: test loss {epoch['test_loss']}, accuracy {epoch['test_accuracy']}; torch: "
          f"EMA export {loss:.9g}, {acc}; the raw weights {raw_loss:.9g}")
    # f32 sums in another order: the loss to a few ulps of its terms, and at
    # most one image on the edge of an argmax
    F_.check(abs(loss - epoch["test_loss"]) <= 1e-5 * max(1.0, loss),
             "the test loss is the EMA weights' in torch")
    F_.check(abs(acc - epoch["test_accuracy"]) <= 1.0 / NTEST + 1e-12,
             "the test accuracy is the EMA weights' in torch")
    F_.check(abs(raw_loss - epoch["test_loss"]) > 1e-3,
             "the raw weights give another test loss (the check can fail)")
    return w


def check_predict(F_, samc, d, ck, w):
    outs = []
    for what, weights in (("checkpoint", ck), ("export", w)):
        out = os.path.join(d, f"pred-{what}.safetensors")
        r = u.run_samc(samc, ["predict", MODEL, "--weights", weights, "-o", out,
                              "--set", f"data.limit_test={NTEST}"])
        if not F_.expect_success(f"predict from the {what}", r):
            return
        outs.append(st.read(out)["logits"])
    F_.check(outs[0].tobytes() == outs[1].tobytes(),
             "predict from the checkpoint uses the EMA: the export's logits exactly")


def check_trainer(F_, samc, d, first):
    tr = os.path.join(d, "trainer")
    r = u.run_samc(samc, ["build", MODEL, "-o", tr, "--quiet", "--cpu", "native"] + SETS)
    if not F_.expect_success("samc build with ema and looksam", r):
        return
    run = ["--set", "ema.decay=0.8", "--set", "optimizer.sam.looksam.alpha=0.3"]
    ca, cb = os.path.join(d, "ca"), os.path.join(d, "cb")
    a = u.run_samc(samc, [MODEL, "--backend", "cpu"] + COMMON + SETS + run +
                   ["--checkpoint-dir", ca])
    b = u.run_samc(tr, COMMON + run + ["--checkpoint-dir", cb])
    if F_.expect_success("samc --set ema.decay, looksam.alpha", a) and \
            F_.expect_success("trainer --set ema.decay, looksam.alpha", b):
        ta, _ = u.read_st(os.path.join(ca, "last.safetensors"))
        tb, _ = u.read_st(os.path.join(cb, "last.safetensors"))
        F_.check(ta == tb, "the trainer's checkpoint is samc's, bit for bit",
                 repr([k for k in ta if ta[k] != tb.get(k)]))
        t0, _ = u.read_st(first)
        F_.check(t0["ema.fc1.weight"] != tb["ema.fc1.weight"],
                 "the trainer's --set changed its run (the check can fail)")
    r = u.run_samc(tr, COMMON + ["--set", "optimizer.sam.looksam.k=2"])
    F_.expect_error("the trainer's --set looksam.k", r,
                    ["optimizer.sam.looksam.k is compiled into this trainer's steps"],
                    rc=2)  # a usage error


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--keep")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")):
        print("SKIP: no Fashion-MNIST", file=sys.stderr)
        return 77
    samc = os.path.abspath(args.samc) if os.sep in args.samc else args.samc
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-ema-")
    os.makedirs(d, exist_ok=True)
    F_ = u.Failures()
    try:
        ck_dir, mpath = os.path.join(d, "ck"), os.path.join(d, "m.jsonl")
        r = u.run_samc(samc, [MODEL, "--backend", "cpu"] + COMMON + SETS +
                       ["--checkpoint-dir", ck_dir, "--metrics", mpath])
        if not F_.expect_success("one epoch of bn_mlp.lua with ema and looksam", r):
            return F_.status("ema_eval")
        ck = os.path.join(ck_dir, "last.safetensors")
        w = check_export(F_, samc, d, ck, last_epoch(mpath))
        if w:
            check_predict(F_, samc, d, ck, w)
        check_trainer(F_, samc, d, ck)
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F_.status("ema_eval")


if __name__ == "__main__":
    sys.exit(main())
