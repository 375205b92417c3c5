#!/usr/bin/env python3
"""resume.py - exact resume through the samc command line.

Trains a model (examples/fashion_mlp.lua by default) on a subset of its data
three ways:
  A   2 epochs without a stop              --checkpoint-dir A
  B1  the same run stopped after epoch 1   --stop-after 1 --checkpoint-dir B
  B2  resumed from B/last.safetensors      --resume B/last.safetensors --checkpoint-dir B
and requires that A's and B's final checkpoints hold the same tensors
(parameters and optimizer state) bit for bit with the same step, epoch and
RNG metadata, and that the --metrics lines of each epoch agree exactly
(losses, accuracies, learning rates; timings aside).

  python3 tests/e2e/resume.py SAMC [--model M] [--backend interp|cpu] [--keep DIR]
                                  [--data DIR] [--set KEY=VALUE ...] [--expect-tensor NAME ...]
Standard library only; exit 77 when samc lacks the backend.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

# Fields of a metrics line that measure time, not training.
TIMING = {"samples_per_s", "seconds", "eta_s"}
# Checkpoint metadata a resumed run must reproduce.
META = ("format", "step", "epoch", "seed", "shuffle_stream", "batch_size", "program_hash")


def metrics(path):
    """JSON lines -> list of dicts without their timing fields."""
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out.append({k: v for k, v in rec.items() if k not in TIMING})
    return out


def by_epoch(recs, epoch):
    return [r for r in recs if r.get("epoch") == epoch]


def compare_ckpts(F, a_path, b_path, expect=()):
    a, ma = u.read_st(a_path)
    b, mb = u.read_st(b_path)
    F.check(sorted(a) == sorted(b), "both checkpoints hold the same tensors",
            f"{sorted(a)} vs {sorted(b)}")
    for name in expect:
        F.check(name in a, f"the checkpoint holds {name}", repr(sorted(a)))
    F.check(any(k.startswith("opt.") for k in a), "the checkpoint holds optimizer state",
            repr(sorted(a)))
    for name in sorted(set(a) & set(b)):
        same = a[name] == b[name]
        detail = ""
        if not same:
            if a[name][:2] != b[name][:2]:
                detail = f"{a[name][:2]} vs {b[name][:2]}"
            else:
                diff = sum(x != y for x, y in zip(a[name][2], b[name][2]))
                detail = f"{diff} of {len(a[name][2])} bytes differ"
        F.check(same, f"tensor {name} {a[name][0]}{a[name][1]} bit-identical", detail)
    for key in META:
        F.check(key in ma and ma.get(key) == mb.get(key), f"metadata '{key}' = {ma.get(key)!r}",
                f"uninterrupted {ma.get(key)!r}, resumed {mb.get(key)!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--model", default=u.here("..", "..", "examples", "fashion_mlp.lua"))
    ap.add_argument("--backend", default="interp")
    ap.add_argument("--limit-train", type=int, default=2560)
    ap.add_argument("--limit-test", type=int, default=512)
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--data", help="the model's data folder (samc --data)")
    ap.add_argument("--set", action="append", default=[], help="a recipe key for every run")
    ap.add_argument("--expect-tensor", action="append", default=[],
                    help="a tensor the checkpoints must hold (a model's state)")
    args = ap.parse_args()
    if os.sep in args.samc:
        args.samc = os.path.abspath(args.samc)
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-resume-")
    os.makedirs(d, exist_ok=True)
    F = u.Failures()
    common = [args.model, "--backend", args.backend, "--epochs", "2", "--quiet", "--log-every", "5",
              "--set", f"data.limit_train={args.limit_train}",
              "--set", f"data.limit_test={args.limit_test}"]
    if args.data:
        common += ["--data", os.path.abspath(args.data)]
    for kv in args.set:
        common += ["--set", kv]
    if args.backend == "cpu":
        common += ["--threads", "2"]  # bit-identical only for the same thread count
    A, B = os.path.join(d, "A"), os.path.join(d, "B")
    try:
        r = u.run_samc(args.samc, common + ["--checkpoint-dir", A, "--metrics", os.path.join(d, "A.jsonl")])
        if r[0] == 2 and "unknown backend" in r[2]:
            print(f"SKIP: {r[2].strip()}")
            return 77
        if not F.expect_success("uninterrupted 2-epoch run", r):
            return F.status("resume")
        r = u.run_samc(args.samc, common + ["--stop-after", "1", "--checkpoint-dir", B,
                                            "--metrics", os.path.join(d, "B1.jsonl")])
        if not F.expect_success("run stopped after epoch 1", r):
            return F.status("resume")
        ck = os.path.join(B, "last.safetensors")
        _, m1 = u.read_st(ck)
        F.check(m1.get("epoch") == "1", "the stopped run's checkpoint is at epoch 1", repr(m1))
        mid, _ = u.read_st(ck)
        r = u.run_samc(args.samc, common + ["--resume", ck, "--checkpoint-dir", B,
                                            "--metrics", os.path.join(d, "B2.jsonl")])
        if not F.expect_success("resumed run for epoch 2", r):
            return F.status("resume")

        a_ck = os.path.join(A, "last.safetensors")
        end, _ = u.read_st(a_ck)
        F.check(any(mid[k] != end[k] for k in mid if not k.startswith("opt.")),
                "epoch 2 changed the parameters (the comparison is not vacuous)")
        compare_ckpts(F, a_ck, ck, args.expect_tensor)

        ma, m_b1, m_b2 = (metrics(os.path.join(d, n)) for n in ("A.jsonl", "B1.jsonl", "B2.jsonl"))
        F.check(by_epoch(m_b1, 2) == [] and by_epoch(m_b2, 1) == [],
                "the stopped run logs only epoch 1, the resumed run only epoch 2")
        for e, got in ((1, m_b1), (2, m_b2)):
            want = by_epoch(ma, e)
            have = by_epoch(got, e)
            F.check(len(want) > 1 and any(r.get("kind") == "epoch" for r in want),
                    f"epoch {e}: the uninterrupted run logged steps and an epoch line",
                    f"{len(want)} lines")
            F.check(want == have, f"epoch {e}: {len(want)} metrics lines identical "
                    "(losses, accuracies, learning rates)",
                    f"\n  uninterrupted: {want}\n  resumed:       {have}")
        final = [r for r in ma if r.get("kind") == "epoch"]
        if final:
            print(f"final test accuracy {final[-1].get('test_accuracy')}, "
                  f"test loss {final[-1].get('test_loss')}")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F.status("resume")


if __name__ == "__main__":
    sys.exit(main())
