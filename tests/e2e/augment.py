#!/usr/bin/env python3
"""augment.py - data.augment end to end on small CIFAR-10 files written here
(models/tiny_cifar.lua, --data DIR):
  - a run stopped after epoch 1 and resumed matches the uninterrupted one
    bit for bit with crop, flip and cutout on (resume.py, --set), on the
    interpreter and on the CPU backend (two threads fill the batches);
  - augmentation changes what training sees (other losses than without it),
    the same recipe twice gives the same losses, and the model still learns;
  - a built trainer takes the keys in --set and trains as samc does;
  - a crop size that is not the images' is refused with a message.
Standard library only.

  python3 tests/e2e/augment.py SAMC
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402
from cifar_npy import make_split, test_accuracy, write_cifar  # noqa: E402

AUG = ["--set", "data.augment.crop.padding=4", "--set", "data.augment.flip=true",
       "--set", "data.augment.cutout=8"]


def losses(r):
    return re.findall(r"loss [0-9.]+", r[1] + r[2])


def main():
    samc = os.path.abspath(sys.argv[1])
    model = u.here("models", "tiny_cifar.lua")
    d = tempfile.mkdtemp(prefix="samc-e2e-augment-")
    F = u.Failures()
    try:
        write_cifar(os.path.join(d, "data_batch_1.bin"), make_split(160, 1))
        write_cifar(os.path.join(d, "data_batch_2.bin"), make_split(160, 2))
        write_cifar(os.path.join(d, "test_batch.bin"), make_split(80, 3))

        # Momentum gives the checkpoints optimizer state to compare too.
        for backend in ("interp", "cpu"):
            cmd = [sys.executable, u.here("resume.py"), samc, "--model", model, "--data", d,
                   "--backend", backend, "--limit-train", "320", "--limit-test", "80",
                   "--set", "optimizer.momentum=0.9"]
            for i in range(1, len(AUG), 2):
                cmd += ["--set", AUG[i]]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if p.returncode == 77:
                print(f"skip {backend}: {p.stdout.strip()}")
                continue
            F.check(p.returncode == 0,
                    f"{backend}: resume with augmentation is bit-identical (resume.py)",
                    "\n" + p.stdout[-3000:] + p.stderr[-2000:])

        base = [model, "--data", d, "--epochs", "2"]
        plain = u.run_samc(samc, base)
        aug1 = u.run_samc(samc, base + AUG)
        aug2 = u.run_samc(samc, base + AUG)
        if all(F.expect_success(w, r) for w, r in
               (("plain run", plain), ("augmented run", aug1), ("augmented run again", aug2))):
            F.check(losses(aug1) and losses(aug1) == losses(aug2),
                    "the same augmented recipe gives the same losses", repr(losses(aug1)))
            F.check(losses(aug1) != losses(plain), "augmentation changes the training losses",
                    repr(losses(plain)))
            acc = test_accuracy(aug1[1] + aug1[2])
            F.check(acc >= 0.4, f"augmented: test accuracy {acc:.4f} >= 0.4 (chance 0.1)")

        # A built trainer takes the keys in --set and trains as samc does.
        tr = os.path.join(d, "trainer")
        # for this CPU, as the JIT compiles: the same losses as samc's
        r = u.run_samc(samc, ["build", model, "-o", tr, "--quiet", "--cpu", "native"])
        if F.expect_success("samc build", r):
            cpu = u.run_samc(samc, base + AUG + ["--backend", "cpu"])
            t = u.run_samc(tr, ["--data", d, "--epochs", "2"] + AUG)
            if F.expect_success("samc --backend cpu, augmented", cpu) and \
                    F.expect_success("trainer --set data.augment.*", t):
                F.check(losses(t) and losses(t) == losses(cpu),
                        "the trainer's losses are samc's", f"{losses(t)} vs {losses(cpu)}")
                F.check(losses(t) != losses(u.run_samc(tr, ["--data", d, "--epochs", "2"])),
                        "the trainer augments only when asked")

        r = u.run_samc(samc, base + ["--set", "data.augment.crop.size=28"])
        F.expect_error("a crop size unlike the images'", r,
                       ["data.augment.crop.size = 28 does not fit input 'x'", "32x32"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("augment")


if __name__ == "__main__":
    sys.exit(main())
