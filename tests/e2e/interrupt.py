#!/usr/bin/env python3
"""interrupt.py - Ctrl-C (SIGINT) or SIGTERM in the middle of an epoch: the
run finishes the step in progress, writes DIR/last.safetensors where it
stands, says so and exits 130 (143); `--resume` then ends with the tensors
and the epoch records (train and test means) of an uninterrupted run, bit for
bit, for samc and for a trainer built by `samc build`.

  python3 tests/e2e/interrupt.py SAMC

The model is models/first_run.lua (784 -> 10, batch 16) on Fashion-MNIST's
60,000 training images (3,750 steps an epoch; 1,000 test images), 3 epochs.
The signal is sent when the progress lines (--log-every 1, through a pipe)
reach epoch 2: samc can be at most a pipe's worth of lines ahead, far from
the epoch's end. Skipped (77) without the data set. Standard library only.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
MODEL = u.here("models", "first_run.lua")
STEPS_PER_EPOCH = 60000 // 16
SETS = [f"data.train.x={DATA}/train-images-idx3-ubyte.gz",
        f"data.train.y={DATA}/train-labels-idx1-ubyte.gz",
        f"data.test.x={DATA}/t10k-images-idx3-ubyte.gz",
        f"data.test.y={DATA}/t10k-labels-idx1-ubyte.gz", "data.limit_test=1000"]
# what the epoch records must reproduce (not the speeds)
KEYS = ("epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy")


def epoch_records(path):
    with open(path) as f:
        recs = [json.loads(line) for line in f]
    return [{k: r.get(k) for k in KEYS} for r in recs if r["kind"] == "epoch"]


def interrupted_run(cmd, sig, F, what):
    """Runs cmd, sends sig once the progress lines reach epoch 2; returns
    (exit status, output)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, sent = [], False
    for line in p.stdout:
        out.append(line)
        if not sent and line.startswith("epoch 2/3  step"):
            p.send_signal(sig)
            sent = True
    p.wait()
    F.check(sent, f"{what}: the run reached epoch 2", "".join(out[-3:]))
    return p.returncode, "".join(out)


def check_stop(F, what, rc, out, sig, ck):
    code = 128 + sig
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    F.check(rc == code and f"interrupted by {name} after step" in out and
            f"--resume {ck}" in out, f"{what}: exit {code}, says so and how to resume",
            f"exit {rc}; {out[-400:]!r}")
    if not os.path.exists(ck):
        F.check(False, f"{what}: a checkpoint was written", ck)
        return
    _, meta = u.read_st(ck)
    step = int(meta.get("step", -1))
    F.check(meta.get("epoch") == "1" and STEPS_PER_EPOCH < step < 2 * STEPS_PER_EPOCH and
            "epoch_sums" in meta, f"{what}: the checkpoint is in the middle of epoch 2 "
            f"(step {step})", str(meta))


def main():
    samc = os.path.abspath(sys.argv[1])
    if not os.path.exists(f"{DATA}/train-images-idx3-ubyte.gz"):
        print(f"SKIP: no {DATA}")
        return 77
    d = tempfile.mkdtemp(prefix="samc-e2e-interrupt-")
    F = u.Failures()
    try:
        sets = [a for s in SETS for a in ("--set", s)]
        base = [MODEL, "--epochs", "3"] + sets
        full = os.path.join(d, "full")
        r = u.run_samc(samc, base + ["--quiet", "--checkpoint-dir", full,
                                     "--metrics", full + ".jsonl"])
        if not F.expect_success("the uninterrupted run", r):
            return F.status("interrupt")
        want, _ = u.read_st(os.path.join(full, "last.safetensors"))
        want_epochs = epoch_records(full + ".jsonl")

        part = os.path.join(d, "part")
        ck = os.path.join(part, "last.safetensors")
        rc, out = interrupted_run([samc] + base + ["--log-every", "1", "--checkpoint-dir", part,
                                                   "--metrics", part + ".jsonl"],
                                  signal.SIGINT, F, "samc, SIGINT")
        check_stop(F, "samc, SIGINT", rc, out, signal.SIGINT, ck)
        r = u.run_samc(samc, [MODEL] + sets + ["--quiet", "--resume", ck, "--checkpoint-dir", part,
                                               "--metrics", part + ".jsonl"])
        if F.expect_success("samc: resumed in the middle of epoch 2", r):
            have, _ = u.read_st(ck)
            F.check(have == want, "samc: the final tensors are the uninterrupted run's, bit for bit")
            got = epoch_records(part + ".jsonl")
            F.check(got == want_epochs, "samc: the epoch records are the uninterrupted run's",
                    f"\n  {got}\n  {want_epochs}")

        trainer = os.path.join(d, "trainer")
        # for this CPU, as the JIT compiles: its tensors are the JIT run's bit for bit
        r = u.run_samc(samc, ["build", MODEL, "-o", trainer, "--quiet", "--cpu", "native"] + sets)
        if r[0] != 0 and ("compiler" in r[2] or "cc" in r[2]):
            print(f"skip the trainer: {r[2].strip()}")
            return F.status("interrupt")
        if not F.expect_success("samc build", r):
            return F.status("interrupt")
        tpart = os.path.join(d, "tpart")
        tck = os.path.join(tpart, "last.safetensors")
        rc, out = interrupted_run([trainer, "--epochs", "3", "--log-every", "1",
                                   "--checkpoint-dir", tpart], signal.SIGTERM, F,
                                  "trainer, SIGTERM")
        check_stop(F, "trainer, SIGTERM", rc, out, signal.SIGTERM, tck)
        p = subprocess.run([trainer, "--quiet", "--resume", tck, "--checkpoint-dir", tpart],
                           capture_output=True, text=True, timeout=300)
        if F.expect_success("trainer: resumed", (p.returncode, p.stdout, p.stderr)):
            have, _ = u.read_st(tck)
            F.check(have == want, "trainer: the final tensors are the uninterrupted run's, "
                    "bit for bit")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("interrupt")


if __name__ == "__main__":
    sys.exit(main())
