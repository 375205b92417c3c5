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

With --trainer: examples/fashion_cnn.lua (BatchNorm after each convolution)
trained by `samc` on 2 ranks with sync_bn, and by the trainer `samc build
--ranks 2` makes of it (its step tables hold the RT_K_COMM entries): the
two checkpoints are bit-identical, and differ from the run without sync_bn.

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" \\
    /usr/bin/python3 tests/dist/sync_bn.py --samc build/samc [--backend cpu|interp|cuda]
                                           [--steps K] [--dtypes f64,f32] [--trainer]

Exit 1 on a disagreement, 77 without numpy/PyTorch or SAMC_MPIRUN.
"""

import argparse
import os
import shlex
import subprocess
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


def trainer(two, samc, d):
    """samc's training loop and the built trainer on 2 ranks: the same bits."""
    model = os.path.join(HERE, "..", "..", "examples", "fashion_cnn.lua")
    sets = ["--set", "data.limit_train=256", "--set", "data.limit_test=128",
            "--set", "optimizer.sam.sync=true"]
    opts = ["--threads", "1", "--epochs", "1", "--quiet"]

    def go(cmd, what):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"{what}: {' '.join(cmd)} failed ({r.returncode}):\n"
                               f"{r.stdout}{r.stderr}")

    ck = {k: os.path.join(d, "train_" + k) for k in ("sync", "own", "trainer")}
    go(two + [samc, model] + opts + sets + ["--set", "sync_bn=true", "--checkpoint-dir",
                                            ck["sync"]], "samc, sync_bn")
    go(two + [samc, model] + opts + sets + ["--checkpoint-dir", ck["own"]], "samc")
    # small buckets: the overlapped all-reduce would send some during the
    # backward pass, where rank_sums still run; it waits for the last of them
    ck["small"] = os.path.join(d, "train_small")
    go(two + [samc, model] + opts + sets + ["--set", "sync_bn=true", "--set",
                                            "allreduce_bucket_mb=0.01", "--checkpoint-dir",
                                            ck["small"]], "samc, sync_bn, small buckets")
    tr = os.path.join(d, "trainer")
    go([samc, "build", model, "--ranks", "2", "--cpu", "native", "-o", tr, "--quiet"] + sets +
       ["--set", "sync_bn=true"], "samc build")
    go(two + [tr] + opts + ["--checkpoint-dir", ck["trainer"]], "the trainer")
    data = {}
    for k, v in ck.items():
        with open(os.path.join(v, "last.safetensors"), "rb") as f:
            data[k] = f.read()
    fails = 0
    for ok, what in ((data["trainer"] == data["sync"],
                      "the trainer built for 2 ranks = samc on 2 ranks, bit for bit"),
                     (data["small"] == data["sync"],
                      "buckets of 0.01 MiB overlapped with rank_sums = one bucket, bit for bit"),
                     (data["own"] != data["sync"], "sync_bn changes the run")):
        print(f"{'ok  ' if ok else 'FAIL'} fashion_cnn.lua sync_bn: {what}")
        fails += not ok
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--dtypes", default="f64,f32")
    ap.add_argument("--trainer", action="store_true")
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
                worst = max(oracle.rel_err(ranks[t], big[t])[0] for t in big
                            if not t.startswith("accum."))
                print(f"{'ok  ' if fails == before else 'FAIL'} {label}: within "
                      f"{TOL[dtype]:.0e} after {args.steps} steps (worst relative error "
                      f"{worst:.1e})")
                if dtype != "f64" or path != MODELS[0]:
                    continue
                # the control: per-replica statistics are not the global batch's
                own = go("own2", two, sets[:1])
                stats = {t: big[t] for t in big if t.endswith(("running_mean", "running_var"))}
                err = max(oracle.rel_err(own[t], stats[t])[0] for t in stats)
                print(f"     {name}: without sync_bn the running statistics are "
                      f"{err:.1e} from the global batch's")
                if not err > 10 * TOL[dtype]:
                    fails += 1
                    print(f"FAIL {name}: without sync_bn the running statistics equal the "
                          f"global batch's (err {err:.2e})")
        if args.trainer:
            fails += trainer(two, args.samc, d)
    print("sync_bn: " + ("all agree" if not fails else f"{fails} failures"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
