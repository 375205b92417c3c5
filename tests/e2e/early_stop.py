#!/usr/bin/env python3
"""early_stop.py - early_stopping.monitor / mode / patience / min_delta:
after each epoch the monitored epoch mean improves when it beats the best
so far by more than min_delta; after `patience` epochs without improvement
the run stops and says so. The stopping epoch is computed here from the
epoch records of an uninterrupted run without early stopping (runs are
deterministic), for min and max modes; a run stopped and resumed across
the stop decision ends with the uninterrupted run's tensors and state, bit
for bit; mistakes in the keys are recipe errors naming file:line.

  python3 tests/e2e/early_stop.py SAMC

The model is models/bn_mlp.lua on 1,280 Fashion-MNIST training images
(40 steps an epoch) and 512 test images, 8 epochs. Skipped (77) without the
data set. Standard library only.
"""

import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
MODEL = u.here("models", "bn_mlp.lua")
EPOCHS = 8
LIMITS = ["--set", "data.limit_train=1280", "--set", "data.limit_test=512"]
BASE = [MODEL, "--epochs", str(EPOCHS)] + LIMITS


def epoch_records(path):
    """The epoch records, without their timings."""
    with open(path) as f:
        return [{k: v for k, v in r.items() if k not in ("samples_per_s", "seconds")}
                for r in map(json.loads, f) if r["kind"] == "epoch"]


def expected_stop(recs, key, mode, patience, min_delta):
    """Keras' and Lightning's rule: (stop epoch or None, best, best epoch)."""
    best, best_epoch, wait = None, 0, 0
    for r in recs:
        v = r[key]
        if best is None or (v > best + min_delta if mode == "max" else v < best - min_delta):
            best, best_epoch, wait = v, r["epoch"], 0
        else:
            wait += 1
            if wait >= patience:
                return r["epoch"], best, best_epoch
    return None, best, best_epoch


def es_sets(monitor, mode, patience, min_delta):
    s = ["--set", f"early_stopping.monitor={monitor}",
         "--set", f"early_stopping.patience={patience}"]
    if mode:
        s += ["--set", f"early_stopping.mode={mode}"]
    if min_delta is not None:
        s += ["--set", f"early_stopping.min_delta={min_delta}"]
    return s


def stopping_run(F, samc, d, full, name, monitor, mode, patience, min_delta):
    key = monitor.replace(".", "_")
    want, best, best_epoch = expected_stop(full, key, mode or "min", patience, min_delta or 0)
    F.check(want is not None and want < EPOCHS, f"{name}: the case stops early",
            f"expected stop {want}")
    if want is None:
        return None
    ck = os.path.join(d, name)
    sets = es_sets(monitor, mode, patience, min_delta)
    r = u.run_samc(samc, BASE + sets + ["--checkpoint-dir", ck, "--metrics", ck + ".jsonl"])
    if not F.expect_success(f"{name}: a run with early stopping on {monitor}", r):
        return None
    recs = epoch_records(ck + ".jsonl")
    F.check(recs == full[:want], f"{name}: it stops after epoch {want}, as computed from "
            f"the epoch records", f"{len(recs)} epochs")
    line = f"early stopping at epoch {want}: {monitor} has not improved"
    m = re.search(r"best (\S+) at epoch (\d+)", r[1])
    F.check(line in r[1] and m and int(m.group(2)) == best_epoch and
            abs(float(m.group(1)) - best) <= 1e-5 * abs(best),
            f"{name}: it says so, with the best value {best:.6g} at epoch {best_epoch}",
            r[1][-400:])
    _, meta = u.read_st(os.path.join(ck, "last.safetensors"))
    st = json.loads(meta.get("early_stopping", "{}"))
    F.check(meta.get("epoch") == str(want) and st.get("wait") == patience and
            st.get("best_epoch") == best_epoch,
            f"{name}: last.safetensors records the stop state", str(meta.get("early_stopping")))
    return ck, sets, want, best_epoch


def main():
    samc = os.path.abspath(sys.argv[1])
    if not os.path.exists(f"{DATA}/train-images-idx3-ubyte.gz"):
        print(f"SKIP: no {DATA}")
        return 77
    d = tempfile.mkdtemp(prefix="samc-e2e-early-")
    F = u.Failures()
    try:
        r = u.run_samc(samc, BASE + ["--quiet", "--metrics", os.path.join(d, "full.jsonl")])
        if not F.expect_success("the uninterrupted run without early stopping", r):
            return F.status("early_stop")
        full = epoch_records(os.path.join(d, "full.jsonl"))
        # max mode on a falling loss: never improves after epoch 1
        stopping_run(F, samc, d, full, "max", "train.loss", "max", 2, None)
        # min mode with a min_delta that the later epochs do not beat
        got = stopping_run(F, samc, d, full, "min", "test.loss", None, 2, 0.02)
        stopping_run(F, samc, d, full, "acc", "test.accuracy", "max", 1, 0.01)
        if got:
            ck, sets, want, best_epoch = got
            # stopped before the decision (with epochs already waited when
            # possible) and resumed: the same epochs, tensors and state
            cut = want - 1
            part = os.path.join(d, "part")
            r = u.run_samc(samc, BASE + ["--quiet"] + sets + ["--stop-after", str(cut),
                                                               "--checkpoint-dir", part])
            r2 = u.run_samc(samc, [MODEL] + LIMITS + sets +
                            ["--resume", os.path.join(part, "last.safetensors"),
                             "--checkpoint-dir", part])
            if (F.expect_success(f"stopped after epoch {cut}", r) and
                    F.expect_success("resumed", r2)):
                a, m1 = u.read_st(os.path.join(part, "last.safetensors"))
                b, m2 = u.read_st(os.path.join(ck, "last.safetensors"))
                F.check(a == b and m1.get("epoch") == m2.get("epoch"),
                        "the resumed run stops at the same epoch with the same tensors, "
                        "bit for bit", f"epoch {m1.get('epoch')} vs {m2.get('epoch')}")
                F.check(m1.get("early_stopping") == m2.get("early_stopping"),
                        "and the same early stopping state",
                        f"{m1.get('early_stopping')} vs {m2.get('early_stopping')}")
                F.check(f"early stopping at epoch {want}:" in r2[1],
                        "the resumed run says it stopped", r2[1][-300:])
            # resumed from the checkpoint of the stop itself: nothing more
            r3 = u.run_samc(samc, [MODEL] + LIMITS + sets +
                            ["--resume", os.path.join(ck, "last.safetensors")])
            F.check(r3[0] == 0 and f"early stopping at epoch {want}:" in r3[1] and
                    f"({want} epochs" in r3[1],
                    "a run resumed where early stopping ended trains no further epoch",
                    r3[1][-300:] + r3[2])
        bad = [(["--set", "early_stopping.monitor=test.acc"],
                ["early_stopping.monitor 'test.acc' is not a metric of the run",
                 "NAME one of loss, accuracy"]),
               (["--set", "early_stopping.monitor=loss"], ["\"train.NAME\" or \"test.NAME\""]),
               (["--set", "early_stopping.patience=3"],
                ["early_stopping.patience needs early_stopping.monitor"]),
               (es_sets("test.loss", None, 0, None), ["early_stopping.patience must be an integer >= 1"]),
               (es_sets("test.loss", None, 2, -0.5), ["early_stopping.min_delta must be"]),
               (es_sets("test.loss", "maximum", 2, None),
                ["unknown early_stopping.mode 'maximum' (known: min, max)"])]
        for args, msgs in bad:
            F.expect_error(" ".join(args[1::2]), u.run_samc(samc, BASE + ["--quiet"] + args),
                           msgs)
        # in the model file itself: the error names the file and line
        with open(MODEL) as f:
            src = f.read()
        bad_model = os.path.join(d, "bad.lua")
        with open(bad_model, "w") as f:
            f.write(src.replace("  epochs = 2,", "  epochs = 2,\n  early_stopping = "
                                "{ monitor = \"test.loss\", patience = \"3\" },"))
        line = src[:src.index("return {")].count("\n") + 1
        F.expect_error("a bad early_stopping in the model file",
                       u.run_samc(samc, [bad_model, "--quiet"] + LIMITS),
                       [f"bad.lua:{line}:", "early_stopping.patience"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("early_stop")


if __name__ == "__main__":
    sys.exit(main())
