#!/usr/bin/env python3
"""bad_inputs.py - bad data, bad checkpoints and a diverging run through the
samc command line. Each case must end with exit status 1 and a message that
names the file (or the step) and the problem; never a crash, never silence.

  python3 tests/e2e/bad_inputs.py SAMC [--backend interp|cpu] [--keep DIR]

Also the options only a run can judge (--stop-after past the last epoch,
a checkpoint directory that cannot be made), refused before training.
The data are small IDX files written into a temporary folder (64 train and
32 test images of 28x28, labels 0-9) next to copies of the model files, whose
relative data paths resolve there; each broken variant replaces one file
with --set data.<split>.<input>=PATH.
Standard library only.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

NTRAIN, NTEST, SIDE = 64, 32, 28
STEPS_PER_EPOCH = NTRAIN // 16  # batch_size(16), drop_last


def write_good_data(d):
    """A consistent data set: the names tiny_*.lua expect (train gzipped,
    test raw, so both readers are exercised)."""
    rng = random.Random(7)
    for split, n, ext in (("train", NTRAIN, ".idx.gz"), ("test", NTEST, ".idx")):
        pixels = bytes(rng.randrange(256) for _ in range(n * SIDE * SIDE))
        labels = bytes(rng.randrange(10) for _ in range(n))
        u.write_idx(os.path.join(d, f"{split}-images{ext}"), [n, SIDE, SIDE], pixels)
        u.write_idx(os.path.join(d, f"{split}-labels{ext}"), [n], labels)
    return rng


def data_cases(d, rng):
    """(name, --set overrides, expected substrings) for each broken data file."""
    n_px = NTRAIN * SIDE * SIDE
    px = bytes(rng.randrange(256) for _ in range(n_px))
    good_labels = [rng.randrange(10) for _ in range(NTRAIN)]
    cases = []

    def add(name, key, fname, raw, expect):
        path = os.path.join(d, fname)
        u.write_bytes(path, raw)
        cases.append((name, [f"data.{key}={path}"], [path] + expect))

    full = u.idx_bytes([NTRAIN, SIDE, SIDE], px)
    add("truncated images (data cut short)", "train.x", "trunc-images.idx",
        full[:len(full) - 100], ["truncated", f"expected {n_px} bytes of data"])
    add("truncated images (gzipped)", "train.x", "trunc-images.idx.gz",
        full[:len(full) // 2], ["truncated"])
    add("truncated header", "train.x", "trunc-header.idx", full[:2],
        ["truncated", "header needs at least 4"])
    add("truncated dimensions", "train.y", "trunc-dims.idx",
        u.idx_bytes([NTRAIN], b"")[:6], ["truncated", "header declares 1 dimensions"])
    add("wrong magic (not IDX)", "train.x", "magic.idx",
        u.idx_bytes([NTRAIN, SIDE, SIDE], px, magic_prefix=b"\x1f\x9c"),
        ["not an IDX file", "magic bytes 1f 9c 08 03"])
    add("wrong magic (float data type)", "test.y", "magic-type.idx",
        u.idx_bytes([NTEST], bytes(4 * NTEST), type_code=0x0D),
        ["IDX data type 0x0d", "not supported"])
    add("labels fewer than images", "train.y", "short-labels.idx",
        u.idx_bytes([NTRAIN - 1], bytes(good_labels[:-1])),
        ["has 64 examples", "63"])
    add("images fewer than labels (test split)", "test.x", "short-images.idx",
        u.idx_bytes([NTEST - 2, SIDE, SIDE], px[:(NTEST - 2) * SIDE * SIDE]),
        ["30", "32"])
    bad = list(good_labels)
    bad[5] = 10
    add("label out of range", "train.y", "range-labels.idx.gz",
        u.idx_bytes([NTRAIN], bytes(bad)), ["label 10 at index 5 is out of range", "0 to 9"])
    add("images of the wrong size", "train.x", "size-images.idx",
        u.idx_bytes([NTRAIN, 27, 27], px[:NTRAIN * 27 * 27]), ["do not fit input"])
    missing = os.path.join(d, "no-such-file.idx.gz")
    cases.append(("missing file", [f"data.train.x={missing}"],
                  [missing, "cannot open", "No such file or directory"]))
    return cases


def train_args(backend, extra=()):
    return ["--backend", backend, "--quiet"] + list(extra)


def sets(pairs):
    out = []
    for p in pairs:
        out += ["--set", p]
    return out


def flip_byte(src, dst, where):
    """Copies src to dst with the byte at offset `where` inverted."""
    with open(src, "rb") as f:
        raw = bytearray(f.read())
    raw[where] ^= 0xFF
    with open(dst, "wb") as f:
        f.write(bytes(raw))


def run_option_cases(samc, d, backend, F):
    """Options that only the run can judge, refused before any training."""
    LINEAR, _ = models(d)
    # once: silently accepted
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--stop-after", "2"]))
    F.expect_error("--stop-after at the last epoch", r,
                   ["--stop-after 2 stops nothing: the run ends after epoch 2 anyway"])
    F.check("epoch 1/" not in r[1], "--stop-after refused before training", r[1])
    # once: found only after the first epoch had trained
    blocker = os.path.join(d, "a-file")
    u.write_bytes(blocker, b"not a directory")
    bad_dir = os.path.join(blocker, "ck")
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "1",
                                                         "--checkpoint-dir", bad_dir]))
    F.expect_error("a checkpoint directory that cannot be made", r,
                   [bad_dir, "cannot create the checkpoint directory"])
    F.check("epoch 1/" not in r[1], "the checkpoint directory checked before training", r[1])


def checkpoint_cases(samc, d, backend, F):
    LINEAR, MLP = models(d)
    good_dir = os.path.join(d, "ck-good")
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--stop-after", "1",
                                                         "--checkpoint-dir", good_dir]))
    if not F.expect_success("one epoch of tiny_linear writes a checkpoint", r):
        return
    good = os.path.join(good_dir, "last.safetensors")
    F.check(os.path.isfile(good), "checkpoint file exists", good)
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--resume", good]))
    F.expect_success("the intact checkpoint resumes", r)

    tensors, _ = u.read_st(good)
    with open(good, "rb") as f:
        size = len(f.read())
    # a byte in the middle of the tensor data: only the checksum can tell
    data_flip = os.path.join(d, "flip-data.safetensors")
    flip_byte(good, data_flip, size - 1000)
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--resume", data_flip]))
    F.expect_error("checkpoint with a flipped data byte", r,
                   [data_flip, "corrupted", "checksum mismatch"])
    # a byte of the JSON header's length field: the file no longer parses
    head_flip = os.path.join(d, "flip-header.safetensors")
    flip_byte(good, head_flip, 1)
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--resume", head_flip]))
    F.expect_error("checkpoint with a flipped header-length byte", r, [head_flip])
    trunc = os.path.join(d, "trunc.safetensors")
    with open(good, "rb") as f, open(trunc, "wb") as g:
        g.write(f.read()[:size // 2])
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--resume", trunc]))
    F.expect_error("truncated checkpoint", r, [trunc])
    missing = os.path.join(d, "no-such-ckpt.safetensors")
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--resume", missing]))
    F.expect_error("missing checkpoint", r, [missing])
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--seed", "4",
                                                         "--resume", good]))
    F.expect_error("resume with another seed", r, [good, "seed 3", "seed 4"])
    F.check("fc.weight" in tensors and any(k.startswith("opt.") for k in tensors),
            "checkpoint holds parameters and optimizer state", repr(sorted(tensors)))
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--dtype", "f64",
                                                         "--resume", good]))
    F.expect_error("an f32 checkpoint resumed in f64", r,
                   [good, "different model", "tensor 'fc.", "F32", "expected F64"])

    other_dir = os.path.join(d, "ck-mlp")
    r = u.run_samc(samc, [MLP] + train_args(backend, ["--epochs", "2", "--stop-after", "1",
                                                      "--checkpoint-dir", other_dir]))
    if F.expect_success("one epoch of tiny_mlp writes a checkpoint", r):
        other = os.path.join(other_dir, "last.safetensors")
        r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2", "--resume", other]))
        F.expect_error("checkpoint of another model (784-32-10 into 784-10)", r,
                       [other, "different model"])


def nan_cases(samc, d, backend, F):
    """The learning rate jumps by 1e38 after the first epoch (a step schedule
    with step_size = one epoch): the weights overflow float32 in the first
    update of epoch 2, so the loss becomes NaN/Inf at its second step:
    the message names the step and the epoch-1 checkpoint, which must still be
    the intact epoch-1 state."""
    LINEAR, _ = models(d)
    diverge = ["schedule.name=step", f"schedule.step_size={STEPS_PER_EPOCH}",
               "schedule.gamma=1e38"]
    nan_dir = os.path.join(d, "ck-nan")
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "3", "--checkpoint-dir",
                                                         nan_dir] + sets(diverge)))
    ckpt = os.path.join(nan_dir, "last.safetensors")
    err = r[2]
    F.expect_error("diverging run stops", r, ["(epoch 2): loss is ", "last good checkpoint: " + ckpt])
    step = None
    for tok in err.replace("(", " ").split():
        if tok.isdigit():
            step = int(tok)
            break
    F.check(step is not None and STEPS_PER_EPOCH < step <= 2 * STEPS_PER_EPOCH,
            "the message names a step of epoch 2", f"stderr: {err.strip()!r}")
    F.check("nan" in err or "inf" in err, "the message says NaN or Inf", err.strip())
    if not os.path.isfile(ckpt):
        F.check(False, "the last good checkpoint is kept", ckpt)
        return
    _, meta = u.read_st(ckpt)
    F.check(meta.get("epoch") == "1" and meta.get("step") == str(STEPS_PER_EPOCH),
            "the kept checkpoint is the epoch-1 one", repr(meta))
    # the same run stopped cleanly after epoch 1 must have written the same state
    ref_dir = os.path.join(d, "ck-nan-ref")
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "3", "--stop-after", "1",
                                                         "--checkpoint-dir", ref_dir]
                                             + sets(diverge)))
    if F.expect_success("reference run stopped after epoch 1", r):
        a, _ = u.read_st(ckpt)
        b, _ = u.read_st(os.path.join(ref_dir, "last.safetensors"))
        F.check(a == b, "the kept checkpoint holds the epoch-1 parameters and state, bit for bit")
    r = u.run_samc(samc, [LINEAR] + train_args(backend, ["--epochs", "2"]
                                             + sets(["optimizer.lr=1e37"])))
    F.expect_error("a run that diverges at once, with no checkpoint directory", r,
                   ["step ", "): loss is ", "none (no checkpoint directory)"])


def models(d):
    """The copies of tiny_linear.lua and tiny_mlp.lua in the work folder."""
    return os.path.join(d, "tiny_linear.lua"), os.path.join(d, "tiny_mlp.lua")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--backend", default="interp")
    ap.add_argument("--keep", help="work in this folder and keep it")
    args = ap.parse_args()
    if os.sep in args.samc:
        args.samc = os.path.abspath(args.samc)
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-bad-")
    os.makedirs(d, exist_ok=True)
    F = u.Failures()
    try:
        rng = write_good_data(d)
        for name in ("tiny_linear.lua", "tiny_mlp.lua"):
            shutil.copy(u.here("models", name), os.path.join(d, name))
        LINEAR, _ = models(d)
        r = u.run_samc(args.samc, [LINEAR] + train_args(args.backend, ["--epochs", "1"]))
        if r[0] == 2 and "unknown backend" in r[2]:
            print(f"SKIP: {r[2].strip()}")
            return 77
        if not F.expect_success("the good data set trains", r):
            return F.status("bad_inputs")
        for name, overrides, expect in data_cases(d, rng):
            r = u.run_samc(args.samc, [LINEAR] + train_args(args.backend, sets(overrides)))
            F.expect_error(name, r, expect)
        run_option_cases(args.samc, d, args.backend, F)
        checkpoint_cases(args.samc, d, args.backend, F)
        nan_cases(args.samc, d, args.backend, F)
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F.status("bad_inputs")


if __name__ == "__main__":
    sys.exit(main())
