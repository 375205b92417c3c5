#!/usr/bin/env python3
"""cifar_npy.py - a small model trains from files in the binary CIFAR-10 and
CIFAR-100 formats and from NumPy .npy files, written here byte for byte
(models/tiny_cifar.lua, --data DIR); broken files end in exit 1 and a
message naming the file. Standard library only.

The images are learnable: class c raises plane c % 3 to 40 + 18 c, noise on
top, so a linear classifier must beat chance (10%) by far within 3 epochs.

  python3 tests/e2e/cifar_npy.py SAMC
"""

import os
import random
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402


def image(c, rng):
    px = bytearray(3072)
    for p in range(3072):
        base = 40 + 18 * c if p // 1024 == c % 3 else 100
        px[p] = max(0, min(255, base + rng.randint(-30, 30)))
    return bytes(px)


def make_split(n, seed):
    rng = random.Random(seed)
    return [(r % 10, image(r % 10, rng)) for r in range(n)]


def write_cifar(path, split, cifar100=False):
    with open(path, "wb") as f:
        for label, px in split:
            # CIFAR-100: coarse label first, then the fine one (which is used)
            f.write((bytes([19 - label, label]) if cifar100 else bytes([label])) + px)


def write_npy(path, descr, shape, raw):
    head = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join(f"{d}, " for d in shape).rstrip(" "))
    pad = -(10 + len(head) + 1) % 64
    head = head + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + raw)


def test_accuracy(out):
    m = re.search(r"test accuracy: ([0-9.]+)", out)
    return float(m.group(1)) if m else -1.0


def main():
    samc = os.path.abspath(sys.argv[1])
    model = u.here("models", "tiny_cifar.lua")
    d = tempfile.mkdtemp(prefix="samc-e2e-cifar-")
    F = u.Failures()
    try:
        train1, train2, test = make_split(160, 1), make_split(160, 2), make_split(80, 3)
        write_cifar(os.path.join(d, "data_batch_1.bin"), train1)
        write_cifar(os.path.join(d, "data_batch_2.bin"), train2)
        write_cifar(os.path.join(d, "test_batch.bin"), test)
        for name, split in (("train100.bin", train1 + train2), ("test100.bin", test)):
            write_cifar(os.path.join(d, name), split, cifar100=True)
        allt = train1 + train2
        write_npy(os.path.join(d, "x.npy"), "|u1", [len(allt), 3, 32, 32],
                  b"".join(px for _, px in allt))
        write_npy(os.path.join(d, "y.npy"), "<i8", [len(allt)],
                  struct.pack(f"<{len(allt)}q", *[c for c, _ in allt]))
        write_npy(os.path.join(d, "xt.npy"), "<f4", [len(test), 3, 32, 32],
                  b"".join(struct.pack("<3072f", *px) for _, px in test))
        write_npy(os.path.join(d, "yt.npy"), "<i4", [len(test)],
                  struct.pack(f"<{len(test)}i", *[c for c, _ in test]))

        base = [model, "--data", d]
        runs = {
            "CIFAR-10, two training files": [],
            "CIFAR-100 files (fine labels)": [
                "--set", "data.format=cifar100",
                "--set", "data.train.x=train100.bin", "--set", "data.train.y=train100.bin",
                "--set", "data.test.x=test100.bin", "--set", "data.test.y=test100.bin"],
            ".npy files (u1 and f4 images, i8 and i4 labels)": [
                "--set", "data.format=npy",
                "--set", "data.train.x=x.npy", "--set", "data.train.y=y.npy",
                "--set", "data.test.x=xt.npy", "--set", "data.test.y=yt.npy"],
        }
        losses = {}
        for what, extra in runs.items():
            r = u.run_samc(samc, base + extra)
            if F.expect_success(f"{what}: trains", r):
                acc = test_accuracy(r[1] + r[2])
                F.check(acc >= 0.6, f"{what}: test accuracy {acc:.4f} >= 0.6 (chance 0.1)")
                losses[what] = re.findall(r"loss [0-9.]+", r[1] + r[2])
        # The same examples in the same order, whatever the format: the same run.
        F.check(len(losses) == 3 and all(v == losses["CIFAR-10, two training files"] and v
                                         for v in losses.values()),
                "the three formats give the same losses", repr(losses))

        with open(os.path.join(d, "cut.bin"), "wb") as f:
            f.write(open(os.path.join(d, "test_batch.bin"), "rb").read()[:-100])
        r = u.run_samc(samc, base + ["--set", "data.test.x=cut.bin"])
        F.expect_error("a truncated CIFAR file", r,
                       ["cut.bin", "is not a whole number of CIFAR-10 records"])
        r = u.run_samc(samc, base + ["--set", "data.format=npy", "--set", "data.train.x=y.npy",
                                     "--set", "data.train.y=y.npy"])
        F.expect_error("a .npy array of the wrong shape", r,
                       ["y.npy: array of shape [320] does not fit input 'x'"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("cifar_npy")


if __name__ == "__main__":
    sys.exit(main())
