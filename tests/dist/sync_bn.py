#!/usr/bin/python3
"""sync_bn.py - BatchNorm's statistics over 2 ranks against one process.

With `sync_bn = true` every batch_norm of the training programs sums its
per-channel statistics over the ranks (rank_sum), so with
`optimizer.sam.sync = true` a step on 2 ranks (rank r normalising its half
of the global batch by the global batch's statistics) is the step of one
process on the whole global batch: the weights, the optimizer's buffers
and the running statistics (the unbiased variance over the global count)
within 1e-12 in f64 and 1e-6 in f32 after K steps, for SGD (bn_sgd.lua)
and SAM (bn_sam.lua), on the backend given. Without sync_bn
the running statistics differ from the global batch's (rank 0's own), which
shows the test can fail.

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" \\
    /usr/bin/python3 tests/dist/sync_bn.py --samc build/samc [--backend cpu|interp|cuda]
                                           [--steps K] [--dtypes f64,f32]

Exit 1 on a disagreement, 77 without numpy/PyTorch or SAMC_MPIRUN.
"""

import argparse
import os
import shlex
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(HERE, "..", "oracle")
sys.path.insert(0, ORACLE)
sys.path.insert(0, HERE)

try:
    import numpy as np  # noqa: F401
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: PyTorch/numpy not importable ({e})", file=sys.stderr)
    sys.exit(77)

import oracle  # noqa: E402
import torch_ref  # noqa: E402
from step_equiv import TOL, compare, run  # noqa: E402

MODELS = [os.path.join(HERE, "models", "bn_sgd.lua"),
          os.path.join(HERE, "models", "bn_sam.lua")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--dtypes", default="f64,f32")
    args = ap.parse_args()
    launcher = os.environ.get("SAMC_MPIRUN")
    if not launcher:
        print("SKIP: SAMC_MPIRUN is not set (tests/dist/tests.cmake sets it)", file=sys.stderr)
        return 77
    two = shlex.split(launcher) + ["-np", "2"]
    sets = ["optimizer.sam.sync=true", "sync_bn=true"]
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        for path in MODELS:
            name = os.path.basename(path)
            model = torch_ref.Model(torch_ref.trace(path))
            for dtype in args.dtypes.split(","):
                init, batches = oracle.make_case(model, dtype, args.steps, 1234)
                ip, bp = oracle.write_inputs(model, init, batches, dtype, d)

                def go(tag, launch, extra):
                    return run(launch, args.samc, path, ip, bp, os.path.join(d, tag + ".st"),
                               args.steps, args.backend, dtype, extra)

                ranks = go("ranks2", two, sets)
                big = go("big", [], sets)  # one rank: sync_bn changes nothing
                label = f"{name} sync_bn {dtype} {args.backend} 2 ranks vs the global batch"
                before = fails
                fails, _ = compare(label, ranks, big, TOL[dtype], fails)
                print(f"{'ok  ' if fails == before else 'FAIL'} {label}: within "
                      f"{TOL[dtype]:.0e} after {args.steps} steps")
                if dtype != "f64":
                    continue
                # the control: per-replica statistics are not the global batch's
                own = go("own2", two, sets[:1])
                stats = {t: big[t] for t in big if t.endswith(("running_mean", "running_var"))}
                err = max(oracle.rel_err(own[t], stats[t])[0] for t in stats)
                if not err > 10 * TOL[dtype]:
                    fails += 1
                    print(f"FAIL {name}: without sync_bn the running statistics equal the "
                          f"global batch's (err {err:.2e})")
    print("sync_bn: " + ("all agree" if not fails else f"{fails} failures"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
