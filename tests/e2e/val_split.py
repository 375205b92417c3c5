#!/usr/bin/env python3
"""val_split.py - the validation set: data.val (files) and data.val_split (a
fraction of the training rows held out, drawn from the seed).

Checks:
  - the held-out rows are the ones docs/dsl.md describes, recomputed here
    from the Philox paper (a Fisher-Yates permutation of the training rows
    from stream "val"), and the epochs train on the others only (steps per
    epoch, the count printed);
  - a run with data.val_split equals, bit for bit, a run whose data.train
    file holds the other rows and whose data.val file holds the held-out
    ones: the same epoch records (train_*, val_*), final test record and
    tensors; so the validation metrics are the eval program's on exactly
    those rows and none of them is trained on;
  - with a validation set the epoch records have val_* keys and no test_*,
    and the test set is evaluated once at the end (a "test" record);
    without one, nothing changes (test_* in every epoch record);
  - early stopping and the best checkpoint on val.loss;
  - SIGINT in the middle of epoch 2 and --resume: the uninterrupted run's
    tensors and records, bit for bit; a resume with another val_split is
    refused;
  - a trainer built by `samc build` without a validation set, run with
    --set data.val_split, equals samc's run;
  - recipe errors naming the model file and line: data.val and
    data.val_split together, a fraction out of range, val.NAME without a
    validation set, test.NAME with one.

  python3 tests/e2e/val_split.py SAMC

The data are written here: 16,003 rows of 4 features and 3 classes (CSV);
the model a linear classifier, batch 8. Standard library only.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

NTRAIN, NTEST, B, SEED, FRACTION = 16003, 203, 8, 7, 0.15
M32 = 0xFFFFFFFF
VAL_STREAM = 0x76616C0000000000  # "val" in the high bytes (docs/dsl.md)

MODEL = """local B = batch_size(8)
local x = input("x", {B, 4})
local y = input("y", {B}, {dtype = "i32", classes = 3})
local logits = linear(x, 3, {name = "fc"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  epochs = 3, seed = 7,
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9 },
  data = { format = "csv", train = { x = "TRAIN", y = "TRAIN" },
           test = { x = "test.csv", y = "test.csv" }EXTRA },
}
"""


def philox4x32_10(ctr, key):
    """Salmon et al., SC'11: ten rounds on a 4-word counter under a 2-word key."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32
    return c0, c1, c2, c3


def words(seed, stream):
    """The stream's 32-bit words in order: block i = philox((i lo, i hi,
    stream lo, stream hi), (seed lo, seed hi))."""
    i = 0
    while True:
        yield from philox4x32_10((i & M32, i >> 32, stream & M32, stream >> 32),
                                 (seed & M32, seed >> 32))
        i += 1


def below(w, n):
    """An unbiased integer in [0, n): Lemire's multiply-shift with rejection."""
    m = next(w) * n
    if (m & M32) < n:
        t = (-n % (1 << 32)) % n
        while (m & M32) < t:
            m = next(w) * n
    return m >> 32


def held_out(n, fraction, seed):
    """docs/dsl.md: the first round(fraction * n) entries of a Fisher-Yates
    permutation of [0, n) from stream "val", in file order."""
    order, w = list(range(n)), words(seed, VAL_STREAM)
    for i in range(n - 1, 0, -1):
        j = below(w, i + 1)
        order[i], order[j] = order[j], order[i]
    return sorted(order[:int(fraction * n + 0.5)])


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("a,b,c,d,y\n")
        f.writelines(rows)


def make_rows(n, rng):
    rows = []
    for _ in range(n):
        y = rng.randrange(3)
        xs = [rng.gauss(0, 1) + (1.0 if j == y else 0) for j in range(4)]
        rows.append(",".join(f"{v:.6f}" for v in xs) + f",{y}\n")
    return rows


def write_model(d, name, train="train.csv", extra=""):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(MODEL.replace("TRAIN", train).replace("EXTRA", extra))
    return path


def records(path, kind):
    with open(path) as f:
        recs = [json.loads(line) for line in f]
    return [{k: v for k, v in r.items() if k not in ("samples_per_s", "seconds")}
            for r in recs if r["kind"] == kind]


def run(samc, F, what, args):
    r = u.run_samc(samc, args)
    F.expect_success(what, r)
    return r


def tensors(path):
    return u.read_st(path)[0] if os.path.exists(path) else None


def expected_stop(recs, key, patience, min_delta):
    """Keras' rule in min mode: (stop epoch or None, best epoch)."""
    best, best_epoch, wait = None, 0, 0
    for r in recs:
        if best is None or r[key] < best - min_delta:
            best, best_epoch, wait = r[key], r["epoch"], 0
        else:
            wait += 1
            if wait >= patience:
                return r["epoch"], best_epoch
    return None, best_epoch


def equivalence(samc, F, d, split_model):
    """val_split == the same rows as files; returns the split run's records."""
    rows = held_out(NTRAIN, FRACTION, SEED)
    with open(os.path.join(d, "train.csv")) as f:
        lines = f.readlines()[1:]
    held = set(rows)
    write_csv(os.path.join(d, "val.csv"), [lines[i] for i in rows])
    write_csv(os.path.join(d, "rest.csv"), [lines[i] for i in range(NTRAIN) if i not in held])
    files_model = write_model(d, "files.lua", "rest.csv", ', val = { x = "val.csv", y = "val.csv" }')
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    r = run(samc, F, "a run with data.val_split", [split_model, "--metrics", a + ".jsonl",
                                                      "--checkpoint-dir", a])
    nval, ntrain = len(rows), NTRAIN - len(rows)
    F.check(f"validation set: {nval} of the {NTRAIN} training examples held out "
            f"(data.val_split = {FRACTION:g}, seed {SEED}); training on {ntrain}" in r[1],
            f"it holds out round({FRACTION} * {NTRAIN}) = {nval} rows and says so", r[1][:400])
    run(samc, F, "a run with those rows as data.val and the others as data.train",
        [files_model, "--quiet", "--metrics", b + ".jsonl", "--checkpoint-dir", b])
    ea, eb = records(a + ".jsonl", "epoch"), records(b + ".jsonl", "epoch")
    F.check([r["step"] for r in ea] == [ntrain // B * e for e in (1, 2, 3)],
            f"each epoch trains on the {ntrain} rows left ({ntrain // B} steps of {B})",
            str([r["step"] for r in ea]))
    F.check(len(ea) == 3 and ea == eb, "the epoch records (train_*, val_*) are those of the "
            "run on the files, bit for bit: the held-out rows are the documented ones, "
            "evaluated exactly, and none is trained on", f"\n  {ea}\n  {eb}")
    F.check(all("val_loss" in r and "val_accuracy" in r and "test_loss" not in r for r in ea),
            "epoch records have val_* keys and no test_*", str(ea[:1]))
    ta, tb = records(a + ".jsonl", "test"), records(b + ".jsonl", "test")
    F.check(len(ta) == 1 and ta == tb and ta[0]["epoch"] == 3 and "test_accuracy" in ta[0],
            "the test set is evaluated once, at the end: one \"test\" record", f"{ta} {tb}")
    last = f"test accuracy: {ta[0]['test_accuracy']:.4f}" if ta else "?"
    F.check(last in r[1].strip().splitlines()[-1], "and the last line gives its accuracy",
            r[1][-200:])
    F.check(tensors(os.path.join(a, "last.safetensors")) ==
            tensors(os.path.join(b, "last.safetensors")), "the final tensors are the same")
    # without a validation set: as before, the test set every epoch
    c = os.path.join(d, "c.jsonl")
    run(samc, F, "a run without a validation set", [write_model(d, "plain.lua"), "--quiet",
                                                     "--metrics", c])
    ec = records(c, "epoch")
    F.check([r["step"] for r in ec] == [NTRAIN // B * e for e in (1, 2, 3)] and
            all("test_loss" in r and "val_loss" not in r for r in ec) and not records(c, "test"),
            "without one, every row trains and each epoch record has test_*", str(ec[:1]))
    return ea


def monitors(samc, F, d, split_model, full):
    """Early stopping and the best checkpoint on val.loss."""
    want, best_epoch = expected_stop(full, "val_loss", 1, 0.002)
    F.check(want is not None and want < 3, "the case stops early", f"{want} {full}")
    ck = os.path.join(d, "es")
    r = run(samc, F, "early stopping and the best checkpoint on val.loss",
            [split_model, "--metrics", ck + ".jsonl", "--checkpoint-dir", ck,
             "--set", "early_stopping.monitor=val.loss", "--set", "early_stopping.patience=1",
             "--set", "early_stopping.min_delta=0.002", "--set", "checkpoint.monitor=val.loss"])
    F.check(records(ck + ".jsonl", "epoch") == full[:want or 0] and
            f"early stopping at epoch {want}: val.loss has not improved" in r[1],
            f"it stops after epoch {want}, as the val_loss of the epoch records says",
            r[1][-300:])
    F.check(f"best checkpoint: {ck}/best-epoch-{best_epoch}.safetensors (val.loss" in r[1] and
            os.path.exists(os.path.join(ck, f"best-epoch-{best_epoch}.safetensors")),
            f"the best checkpoint by val.loss is epoch {best_epoch}'s", r[1][-300:])
    F.check(len(records(ck + ".jsonl", "test")) == 1, "the test set is evaluated once when "
            "early stopping ends the run")


def interrupted(samc, F, d, split_model, full_dir):
    """SIGINT in the middle of epoch 2, then --resume: bit for bit."""
    part = os.path.join(d, "part")
    p = subprocess.Popen([samc, split_model, "--log-every", "1", "--checkpoint-dir", part,
                          "--metrics", part + ".jsonl"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    sent = False
    for line in p.stdout:
        if not sent and line.startswith("epoch 2/3  step"):
            p.send_signal(signal.SIGINT)
            sent = True
    p.wait()
    ckpt = os.path.join(part, "last.safetensors")
    meta = u.read_st(ckpt)[1] if os.path.exists(ckpt) else {}
    steps = (NTRAIN - len(held_out(NTRAIN, FRACTION, SEED))) // B
    step = int(meta.get("step", -1))
    F.check(sent and p.returncode == 130 and meta.get("epoch") == "1" and
            steps < step < 2 * steps and meta.get("val_split") == repr(FRACTION),
            "SIGINT in epoch 2: a checkpoint in its middle that records val_split",
            f"exit {p.returncode}, {meta}")
    r = u.run_samc(samc, [split_model, "--set", "data.val_split=0.2", "--resume", ckpt])
    F.expect_error("a resume with another data.val_split is refused", r,
                   ["checkpoint was trained with data.val_split = 0.15, this run has "
                    "data.val_split = 0.2"])
    r = run(samc, F, "resumed", [split_model, "--quiet", "--resume", ckpt, "--checkpoint-dir",
                                 part, "--metrics", part + ".jsonl"])
    F.check(tensors(ckpt) == tensors(os.path.join(full_dir, "last.safetensors")),
            "the resumed run ends with the uninterrupted run's tensors, bit for bit")
    F.check(records(part + ".jsonl", "epoch") == records(full_dir + ".jsonl", "epoch") and
            records(part + ".jsonl", "test") == records(full_dir + ".jsonl", "test"),
            "and the same epoch and test records")


def trainer(samc, F, d, full_dir):
    """A trainer built without a validation set, told --set data.val_split."""
    exe = os.path.join(d, "trainer")
    r = u.run_samc(samc, ["build", write_model(d, "plain.lua"), "-o", exe, "--quiet"])
    if r[0] != 0 and ("compiler" in r[2] or "cc" in r[2]):
        print(f"skip the trainer: {r[2].strip()}")
        return
    if not F.expect_success("samc build (no validation set)", r):
        return
    t = os.path.join(d, "t")
    p = subprocess.run([exe, "--set", f"data.val_split={FRACTION}", "--metrics", t + ".jsonl",
                        "--checkpoint-dir", t], capture_output=True, text=True)
    F.expect_success("the trainer with --set data.val_split", (p.returncode, p.stdout, p.stderr))
    F.check(records(t + ".jsonl", "epoch") == records(full_dir + ".jsonl", "epoch") and
            records(t + ".jsonl", "test") == records(full_dir + ".jsonl", "test") and
            tensors(os.path.join(t, "last.safetensors")) ==
            tensors(os.path.join(full_dir, "last.safetensors")),
            "it holds out the same rows and trains to samc's records and tensors, bit for bit")
    p = subprocess.run([exe, "--set", "data.val_split=0.7"], capture_output=True, text=True)
    F.check(p.returncode != 0 and "data.val_split must be in [0, 0.5], got 0.7" in p.stderr,
            "the trainer refuses a fraction out of range", p.stderr)


def errors(samc, F, d, split_model):
    with open(split_model) as f:
        line = f.read().split("return {")[0].count("\n") + 1
    both = write_model(d, "both.lua", extra=', val_split = 0.1, val = { x = "test.csv", '
                       'y = "test.csv" }')
    cases = [
        (both, [], ["both.lua:%d: recipe: data.val and data.val_split are both given" % line]),
        (split_model, ["--set", "data.val_split=0.6"],
         ["split.lua:%d: recipe: data.val_split must be in [0, 0.5], got 0.6" % line]),
        (split_model, ["--set", "data.val_split=-0.1"], ["data.val_split must be in [0, 0.5]"]),
        (write_model(d, "plain.lua"), ["--set", "early_stopping.monitor=val.loss"],
         ["plain.lua:%d: recipe: early_stopping.monitor 'val.loss' needs a validation set" %
          line]),
        (write_model(d, "plain.lua"), ["--set", "checkpoint.monitor=val.accuracy"],
         ["checkpoint.monitor 'val.accuracy' needs a validation set"]),
        (split_model, ["--set", "checkpoint.monitor=test.loss"],
         ["checkpoint.monitor 'test.loss': with a validation set the test set is evaluated "
          "once", "monitor \"val.loss\""]),
        (split_model, ["--set", "data.val_split=0.00001"],
         ["data.val_split = 1e-05 of the 16003 training examples", "holds out no example"]),
    ]
    for model, args, msgs in cases:
        F.expect_error(f"{os.path.basename(model)} {' '.join(args[1::2])}: refused",
                       u.run_samc(samc, [model, "--quiet"] + args), msgs)


def main():
    samc = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="samc-e2e-val-")
    F = u.Failures()
    try:
        rng = random.Random(1)
        write_csv(os.path.join(d, "train.csv"), make_rows(NTRAIN, rng))
        write_csv(os.path.join(d, "test.csv"), make_rows(NTEST, rng))
        split_model = write_model(d, "split.lua", extra=f", val_split = {FRACTION}")
        full = equivalence(samc, F, d, split_model)
        monitors(samc, F, d, split_model, full)
        interrupted(samc, F, d, split_model, os.path.join(d, "a"))
        trainer(samc, F, d, os.path.join(d, "a"))
        errors(samc, F, d, split_model)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("val_split")


if __name__ == "__main__":
    sys.exit(main())
