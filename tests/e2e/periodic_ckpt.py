#!/usr/bin/env python3
"""periodic_ckpt.py - checkpoint.every_steps: DIR/last.safetensors is
written every N optimizer steps, in the middle of an epoch too, and a run
killed outright (SIGKILL: no handler, no last write) resumes from the last
one to the uninterrupted run's final tensors and epoch record, bit for bit.

  python3 tests/e2e/periodic_ckpt.py SAMC

The model is models/first_run.lua (784 -> 10, batch 16) on Fashion-MNIST's
60,000 training images (3,750 steps an epoch; 1,000 test images), 2 epochs,
a checkpoint every 400 steps. The kill is sent when the progress lines
(--log-every 1, through a pipe) are 500 steps into epoch 2: samc can be at
most a pipe's worth of lines ahead, far from the run's end. Also: the
periodic writes leave the run's numbers alone, and a --set out of range is
refused; the same kill and resume for a trainer built by `samc build`
(--set checkpoint.every_steps=400). Skipped (77) without the data set. Standard library only.
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
from interrupt import DATA, KEYS, MODEL, SETS, STEPS_PER_EPOCH  # noqa: E402

EVERY = 400


def epoch_records(path):
    with open(path) as f:
        recs = [json.loads(line) for line in f]
    return [{k: r.get(k) for k in KEYS} for r in recs if r["kind"] == "epoch"]


def killed_run(cmd, F):
    """Runs cmd, SIGKILLs it 500 progress lines into epoch 2; returns its
    exit status."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, sent, tail = 0, False, []
    for line in p.stdout:
        tail = (tail + [line])[-3:]
        if line.startswith("epoch 2/2  step"):
            seen += 1
        if not sent and seen == 500:
            p.send_signal(signal.SIGKILL)
            sent = True
    p.wait()
    F.check(sent, "the run reached epoch 2", "".join(tail))
    return p.returncode


def main():
    samc = os.path.abspath(sys.argv[1])
    if not os.path.exists(f"{DATA}/train-images-idx3-ubyte.gz"):
        print(f"SKIP: no {DATA}")
        return 77
    d = tempfile.mkdtemp(prefix="samc-e2e-periodic-")
    F = u.Failures()
    try:
        sets = [a for s in SETS for a in ("--set", s)]
        base = [MODEL, "--epochs", "2"] + sets
        every = ["--set", f"checkpoint.every_steps={EVERY}"]
        full = os.path.join(d, "full")
        r = u.run_samc(samc, base + ["--quiet", "--checkpoint-dir", full,
                                     "--metrics", full + ".jsonl"])
        if not F.expect_success("the uninterrupted run", r):
            return F.status("periodic_ckpt")
        want, _ = u.read_st(os.path.join(full, "last.safetensors"))
        want_epochs = epoch_records(full + ".jsonl")

        per = os.path.join(d, "per")
        r = u.run_samc(samc, base + every + ["--quiet", "--checkpoint-dir", per])
        if F.expect_success("an uninterrupted run with periodic checkpoints", r):
            have, meta = u.read_st(os.path.join(per, "last.safetensors"))
            F.check(have == want, "periodic checkpoints leave the run's tensors alone")
            F.check(meta.get("step") == str(2 * STEPS_PER_EPOCH) and "epoch_sums" not in meta,
                    "at the end, last.safetensors is the last epoch's", str(meta))

        part = os.path.join(d, "part")
        ck = os.path.join(part, "last.safetensors")
        rc = killed_run([samc] + base + every + ["--log-every", "1", "--checkpoint-dir", part],
                        F)
        F.check(rc == -signal.SIGKILL, "the run was killed", f"exit {rc}")
        if not os.path.exists(ck):
            F.check(False, "a periodic checkpoint was written before the kill", ck)
            return F.status("periodic_ckpt")
        _, meta = u.read_st(ck)
        step = int(meta.get("step", -1))
        F.check(step % EVERY == 0 and STEPS_PER_EPOCH < step < 2 * STEPS_PER_EPOCH and
                meta.get("epoch") == "1" and "epoch_sums" in meta,
                f"the last checkpoint is a periodic one in the middle of epoch 2 (step {step})",
                str(meta))
        r = u.run_samc(samc, [MODEL] + sets + ["--quiet", "--resume", ck, "--checkpoint-dir",
                                               part, "--metrics", part + ".jsonl"])
        if F.expect_success("resumed from the periodic checkpoint", r):
            have, _ = u.read_st(ck)
            F.check(have == want, "the final tensors are the uninterrupted run's, bit for bit")
            got = epoch_records(part + ".jsonl")
            F.check(got == want_epochs[1:], "epoch 2's record is the uninterrupted run's",
                    f"\n  {got}\n  {want_epochs[1:]}")

        trainer = os.path.join(d, "trainer")
        # for this CPU, as the JIT compiles: its tensors are the JIT run's bit for bit
        r = u.run_samc(samc, ["build", MODEL, "-o", trainer, "--quiet", "--cpu", "native"] + sets)
        if F.expect_success("samc build", r):
            tpart = os.path.join(d, "tpart")
            tck = os.path.join(tpart, "last.safetensors")
            rc = killed_run([trainer, "--epochs", "2", "--log-every", "1", "--checkpoint-dir",
                             tpart] + every, F)
            F.check(rc == -signal.SIGKILL, "trainer: the run was killed", f"exit {rc}")
            _, meta = u.read_st(tck) if os.path.exists(tck) else (None, {})
            F.check(int(meta.get("step", -1)) % EVERY == 0 and "epoch_sums" in meta,
                    "trainer: the last checkpoint is a periodic one", str(meta))
            p = subprocess.run([trainer, "--quiet", "--resume", tck, "--checkpoint-dir", tpart],
                               capture_output=True, text=True, timeout=300)
            if F.expect_success("trainer: resumed", (p.returncode, p.stdout, p.stderr)):
                have, _ = u.read_st(tck)
                F.check(have == want, "trainer: the final tensors are the uninterrupted run's, "
                        "bit for bit")

        r = u.run_samc(samc, base + ["--set", "checkpoint.every_steps=-5"])
        F.expect_error("every_steps below 0", r, ["checkpoint.every_steps must be an integer >= 0"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("periodic_ckpt")


if __name__ == "__main__":
    sys.exit(main())
