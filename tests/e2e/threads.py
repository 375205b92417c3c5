#!/usr/bin/env python3
"""threads.py - a training run gives the same bits on 1, 2 and 3 threads.

Trains a model (examples/fashion_mlp2.lua by default: its SAM norms run as
parallel chunked reductions, its GEMMs split over the threads) for one
epoch on a subset of its data with `--threads 1`, `2` and `3`, and requires
the final checkpoints (parameters and optimizer state) to agree bit for bit
and the --metrics lines (losses, accuracies, learning rates; timings aside)
to agree exactly. README.md ("Threads") says why they should.

  python3 tests/e2e/threads.py SAMC [--model M] [--keep DIR]
Standard library only.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

TIMING = {"samples_per_s", "seconds", "eta_s"}
THREADS = (1, 2, 3)


def metrics(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out.append({k: v for k, v in rec.items() if k not in TIMING})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samc")
    ap.add_argument("--model", default=u.here("..", "..", "examples", "fashion_mlp2.lua"))
    ap.add_argument("--limit-train", type=int, default=1280)
    ap.add_argument("--limit-test", type=int, default=256)
    ap.add_argument("--keep", help="work in this folder and keep it")
    args = ap.parse_args()
    if os.sep in args.samc:
        args.samc = os.path.abspath(args.samc)
    d = args.keep or tempfile.mkdtemp(prefix="samc-e2e-threads-")
    os.makedirs(d, exist_ok=True)
    F = u.Failures()
    common = [args.model, "--backend", "cpu", "--epochs", "1", "--quiet", "--log-every", "2",
              "--set", f"data.limit_train={args.limit_train}",
              "--set", f"data.limit_test={args.limit_test}"]
    try:
        ck, ms = {}, {}
        for t in THREADS:
            out = os.path.join(d, f"t{t}")
            r = u.run_samc(args.samc, common + ["--threads", str(t), "--checkpoint-dir", out,
                                                "--metrics", out + ".jsonl"])
            if not F.expect_success(f"training on {t} thread(s)", r):
                return F.status("threads")
            ck[t], _ = u.read_st(os.path.join(out, "last.safetensors"))
            ms[t] = metrics(out + ".jsonl")
        F.check(any(k.startswith("opt.") for k in ck[1]), "the checkpoint holds optimizer state",
                repr(sorted(ck[1])))
        F.check(len(ms[1]) > 2, "the run logged steps and an epoch line", f"{len(ms[1])} lines")
        for t in THREADS[1:]:
            F.check(sorted(ck[t]) == sorted(ck[1]), f"{t} threads: the same tensors",
                    f"{sorted(ck[t])} vs {sorted(ck[1])}")
            for name in sorted(set(ck[1]) & set(ck[t])):
                a, b = ck[1][name], ck[t][name]
                detail = "" if a == b else \
                    f"{sum(x != y for x, y in zip(a[2], b[2]))} of {len(a[2])} bytes differ"
                F.check(a == b, f"{t} threads: {name} {a[0]}{a[1]} bit-identical to 1 thread",
                        detail)
            F.check(ms[t] == ms[1], f"{t} threads: {len(ms[1])} metrics lines identical",
                    f"\n  1 thread:  {ms[1]}\n  {t} threads: {ms[t]}")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return F.status("threads")


if __name__ == "__main__":
    sys.exit(main())
