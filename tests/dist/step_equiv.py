#!/usr/bin/python3
"""step_equiv.py - a step on 2 ranks against the same step in one process.

`samc steps` under `mpirun -np 2` splits every global batch of the batches
file over the ranks (rank r takes rows [r*B/2, (r+1)*B/2)) and all-reduces
the accumulated gradients in rank order; rank 0 writes the weights. Without
BatchNorm the mathematics does not depend on the ranks, so in f64 over K
steps (and in f32 at 1e-6):

  - optimizer.sam.sync = true (and no SAM: SGD): one process on the global
    batch, within TOL (another order of the batch's sums), and one process
    with optimizer.accumulate = 2 bit for bit (the same sums in the same
    order: the all-reduce adds rank 1's accumulator to rank 0's, as the
    second micro-batch adds to the first's);
  - per-replica SAM (the default on several ranks): one process with
    optimizer.sam.m = 2 bit for bit, and it must differ from the global
    batch (each replica perturbs with its own gradient);

for SGD (momentum, Nesterov, weight decay), SAM, ASAM and GSAM (sync), SAM
(per replica) on the oracle's MLP, on the CPU backend (the interpreter
with --backend interp). With BatchNorm (bn_sam.lua, sync) the weights are
accumulate = 2's and the running statistics rank 0's.

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" \\
    /usr/bin/python3 tests/dist/step_equiv.py --samc build/samc [--backend cpu|interp|cuda]
                                              [--steps K] [--quick]

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

try:
    import numpy as np
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: PyTorch/numpy not importable ({e})", file=sys.stderr)
    sys.exit(77)

import oracle  # noqa: E402
import st  # noqa: E402
import torch_ref  # noqa: E402

# the tolerances: f64 sums in another order, f32 ones
TOL = {"f64": 1e-12, "f32": 1e-6}

CASES = [  # model, --set arguments, what 2 ranks equal in one process, dtypes
    ("sgd_mnw.lua", [], "accumulate", ("f64", "f32")),
    ("sam_sgdm.lua", ["optimizer.sam.sync=true"], "accumulate", ("f64", "f32")),
    ("asam_sgd.lua", ["optimizer.sam.sync=true"], "accumulate", ("f64",)),
    ("sam_sgdm.lua", [], "m", ("f64", "f32")),
    ("sam_sgdm.lua", ["optimizer.sam.sync=true", "optimizer.sam.gsam.alpha=0.3"], "accumulate",
     ("f64",)),
]


def run(launch, samc, model, init, batches, out, steps, backend, dtype, sets):
    cmd = launch + [samc, "steps", model, "--init", init, "--batches", batches, "--steps",
                    str(steps), "--out", out, "--dtype", dtype, "--backend", backend]
    for s in sets:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return st.read(out)


def compare(label, got, want, tol, fails):
    """Every tensor of want in got within tol; returns (fails, bit-identical)."""
    same = True
    for t in sorted(want):
        if t.startswith("accum."):
            continue
        err, kind = oracle.rel_err(got[t], want[t])
        same = same and np.array_equal(got[t], want[t])
        ok = err <= tol
        fails += not ok
        if not ok:
            print(f"FAIL {label} {t}: {kind} err {err:.2e} (tol {tol:.0e})")
    return fails, same


def batch_norm(two, args, d, fails):
    """BatchNorm under sam.sync: each rank normalises its micro-batch with
    its own statistics, so the weights are one process's with accumulate =
    2 (within TOL: the two compile the update into different kernels, and
    an optimizer buffer may differ in its last bit); the running statistics
    are rank 0's (moved by its micro-batch once a step), not the two
    micro-batches' in turn."""
    path = os.path.join(ORACLE, "models", "bn_sam.lua")
    model = torch_ref.Model(torch_ref.trace(path))
    init, batches = oracle.make_case(model, "f64", args.steps, 1234)
    ip, bp = oracle.write_inputs(model, init, batches, "f64", d)
    sets = ["optimizer.sam.sync=true"]
    ranks = run(two, args.samc, path, ip, bp, os.path.join(d, "bn2.st"), args.steps,
                args.backend, "f64", sets)
    one = run([], args.samc, path, ip, bp, os.path.join(d, "bn1.st"), args.steps, args.backend,
              "f64", sets + ["optimizer.accumulate=2"])
    state = [t for t in one if t.startswith("bn") and not t.endswith(("weight", "bias"))]
    rest = {t: one[t] for t in one if t not in state and t != "loss"}
    before = fails
    fails, bits = compare("bn_sam.lua sync f64 2 ranks vs accumulate=2", ranks, rest,
                          TOL["f64"], fails)
    ok = fails == before and all(float(ranks[t].reshape(-1)[0]) == args.steps for t in state
                      if t.endswith("num_batches_tracked"))
    ok = ok and any(not np.array_equal(ranks[t], one[t]) for t in state
                    if t.endswith("running_mean"))
    fails += not ok
    print(f"{'ok  ' if ok else 'FAIL'} bn_sam.lua sync f64 2 ranks: the weights "
          f"{'bit-identical to' if bits else 'within 1e-12 of'} accumulate=2, the running "
          f"statistics rank 0's ({args.steps} updates)")
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--quick", action="store_true",
                    help="SAM only, sync and per replica, f32 (a slow backend)")
    args = ap.parse_args()
    launcher = os.environ.get("SAMC_MPIRUN")
    if not launcher:
        print("SKIP: SAMC_MPIRUN is not set (tests/dist/tests.cmake sets it)", file=sys.stderr)
        return 77
    two = shlex.split(launcher) + ["-np", "2"]
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        cases = [(n, s, t, ("f32",)) for n, s, t, _ in CASES[1:4:2]] if args.quick else CASES
        for name, sets, twin, dtypes in cases:
            for dtype in dtypes:
                path = os.path.join(ORACLE, "models", name)
                model = torch_ref.Model(torch_ref.trace(path))
                init, batches = oracle.make_case(model, dtype, args.steps, 1234)
                ip, bp = oracle.write_inputs(model, init, batches, dtype, d)

                def go(tag, launch, extra):
                    return run(launch, args.samc, path, ip, bp, os.path.join(d, tag + ".st"),
                               args.steps, args.backend, dtype, sets + extra)

                ranks = go("ranks2", two, [])
                big = go("big", [], [])
                one = go("one", [], ["optimizer.accumulate=2" if twin == "accumulate"
                                     else "optimizer.sam.m=2"])
                label = f"{name} {' '.join(sets)} {dtype} 2 ranks"
                before = fails
                fails, bits = compare(f"{label} vs {twin}=2", ranks, one, TOL[dtype], fails)
                if not bits:  # the same sums in the same order: the same bits
                    fails += 1
                    print(f"FAIL {label}: not bit-identical to one process with {twin}=2")
                if twin == "accumulate":
                    fails, _ = compare(f"{label} vs the global batch", ranks, big, TOL[dtype],
                                       fails)
                else:  # per-replica SAM is m-sharpness: another step than the global batch
                    err = max(oracle.rel_err(ranks[t], big[t])[0] for t in big
                              if not t.startswith("accum.") and t != "loss")
                    if not err > 10 * TOL[dtype]:
                        fails += 1
                        print(f"FAIL {label}: per-replica SAM equals the global batch "
                              f"(err {err:.2e})")
                print(f"{'ok  ' if fails == before else 'FAIL'} {label}: "
                      f"{'bit-identical to' if bits else 'differs from'} one process with "
                      f"{twin}=2 after {args.steps} steps")
        if not args.quick:
            fails = batch_norm(two, args, d, fails)
    print("step_equiv: " + ("all agree" if not fails else f"{fails} failures"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
