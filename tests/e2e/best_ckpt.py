#!/usr/bin/env python3
"""best_ckpt.py - checkpoint.monitor / mode / keep: after each epoch the
monitored epoch mean ranks the epoch, and the `keep` best stay on disk as
DIR/best-epoch-N.safetensors, full checkpoints of that epoch; a run stopped
and resumed keeps the same ones; mistakes in the keys are recipe errors.

  python3 tests/e2e/best_ckpt.py SAMC

The model is models/bn_mlp.lua on 1,280 Fashion-MNIST training images
(40 steps an epoch) and 512 test images, 5 epochs. The expected ranking is
computed here from the run's own epoch records (ties: the earlier epoch).
Skipped (77) without the data set. Standard library only.
"""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
MODEL = u.here("models", "bn_mlp.lua")
EPOCHS, STEPS = 5, 40
BASE = [MODEL, "--quiet", "--epochs", str(EPOCHS), "--set", "data.limit_train=1280",
        "--set", "data.limit_test=512"]


def epoch_records(path):
    with open(path) as f:
        return [r for r in map(json.loads, f) if r["kind"] == "epoch"]


def expected(recs, key, mode, keep):
    """The epochs kept, best first: a stable sort keeps the earlier of a tie."""
    order = sorted(recs, key=lambda r: -r[key] if mode == "max" else r[key])
    return [r["epoch"] for r in order[:keep]]


def best_files(d):
    return sorted(f for f in os.listdir(d) if f.startswith("best-"))


def ranked_run(F, samc, d, name, monitor, mode, keep, key):
    ck = os.path.join(d, name)
    sets = ["--set", f"checkpoint.monitor={monitor}", "--set", f"checkpoint.keep={keep}"]
    if mode:
        sets += ["--set", f"checkpoint.mode={mode}"]
    r = u.run_samc(samc, BASE + sets + ["--checkpoint-dir", ck, "--metrics", ck + ".jsonl"])
    if not F.expect_success(f"{name}: a run ranked by {monitor}", r):
        return None
    want = expected(epoch_records(ck + ".jsonl"), key, mode or "min", keep)
    F.check(best_files(ck) == sorted(f"best-epoch-{e}.safetensors" for e in want),
            f"{name}: the {keep} best epochs by {monitor} ({mode or 'min'}) are kept, "
            f"no other", f"{best_files(ck)} vs epochs {want}")
    for e in want:
        _, meta = u.read_st(os.path.join(ck, f"best-epoch-{e}.safetensors"))
        F.check(meta.get("epoch") == str(e) and meta.get("step") == str(e * STEPS),
                f"{name}: best-epoch-{e} is the checkpoint of epoch {e}", str(meta))
    _, meta = u.read_st(os.path.join(ck, "last.safetensors"))
    kept = [k[0] for k in json.loads(meta.get("best", "{}")).get("kept", [])]
    F.check(kept == want, f"{name}: last.safetensors records the ranking", str(meta.get("best")))
    return ck, sets, want


def main():
    samc = os.path.abspath(sys.argv[1])
    if not os.path.exists(f"{DATA}/train-images-idx3-ubyte.gz"):
        print(f"SKIP: no {DATA}")
        return 77
    d = tempfile.mkdtemp(prefix="samc-e2e-best-")
    F = u.Failures()
    try:
        got = ranked_run(F, samc, d, "acc", "test.accuracy", "max", 2, "test_accuracy")
        ranked_run(F, samc, d, "loss", "test.loss", None, 1, "test_loss")
        ranked_run(F, samc, d, "train", "train.loss", "min", 3, "train_loss")
        if got:
            ck, sets, want = got
            # the best epoch's file holds that epoch's tensors: a run stopped there
            stop = os.path.join(d, "stop")
            r = u.run_samc(samc, BASE + ["--stop-after", str(want[0]), "--checkpoint-dir", stop])
            if F.expect_success("a run stopped at the best epoch", r):
                a, _ = u.read_st(os.path.join(ck, f"best-epoch-{want[0]}.safetensors"))
                b, _ = u.read_st(os.path.join(stop, "last.safetensors"))
                F.check(a == b, "the best checkpoint's tensors are its epoch's, bit for bit")
            # stopped after epoch 2 and resumed: the same files and ranking
            part = os.path.join(d, "part")
            r = u.run_samc(samc, BASE + sets + ["--stop-after", "2", "--checkpoint-dir", part])
            r2 = u.run_samc(samc, [MODEL, "--quiet", "--set", "data.limit_train=1280",
                                   "--set", "data.limit_test=512"] + sets +
                            ["--resume", os.path.join(part, "last.safetensors"),
                             "--checkpoint-dir", part])
            if F.expect_success("stopped after epoch 2", r) and F.expect_success("resumed", r2):
                F.check(best_files(part) == best_files(ck),
                        "a resumed run keeps the uninterrupted run's best checkpoints",
                        f"{best_files(part)} vs {best_files(ck)}")
                _, m1 = u.read_st(os.path.join(part, "last.safetensors"))
                _, m2 = u.read_st(os.path.join(ck, "last.safetensors"))
                F.check(m1.get("best") == m2.get("best"), "and the same ranking",
                        f"{m1.get('best')} vs {m2.get('best')}")
        bad = [(["--set", "checkpoint.monitor=test.acc"],
                ["checkpoint.monitor 'test.acc' is not a metric of the run",
                 "NAME one of loss, accuracy"]),
               (["--set", "checkpoint.monitor=accuracy"], ["\"train.NAME\" or \"test.NAME\""]),
               (["--set", "checkpoint.keep=3"], ["checkpoint.keep needs checkpoint.monitor"]),
               (["--set", "checkpoint.monitor=test.loss", "--set", "checkpoint.keep=0"],
                ["checkpoint.keep must be an integer >= 1"]),
               (["--set", "checkpoint.monitor=test.loss", "--set", "checkpoint.mode=maximum"],
                ["unknown checkpoint.mode 'maximum' (known: min, max)"])]
        for args, msgs in bad:
            F.expect_error(" ".join(args[1::2]), u.run_samc(samc, BASE + args), msgs)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("best_ckpt")


if __name__ == "__main__":
    sys.exit(main())
