#!/usr/bin/python3
"""accum_equiv.py - gradient accumulation against the big batch.

Without BatchNorm, optimizer.accumulate = K over micro-batches of B/K is one
step on the batch of B: the mean of the K micro-batches' mean gradients is
the batch's mean gradient, SAM's perturbation is taken from it, the second
gradient is accumulated at the same perturbed weights. So `samc steps` with
--set optimizer.accumulate=K must give, in f64, the parameters, optimizer
state and losses of the same model without it, up to the order of the
sums: within 1e-12 relative. Checked for SGD (with momentum, Nesterov and
weight decay), SAM, ASAM and GSAM on the oracle's MLP, K = 2 and 4, on
the interpreter and the CPU backend.

  /usr/bin/python3 tests/oracle/accum_equiv.py --samc build/samc [--backend cpu]

Exit 1 on a disagreement, 77 without numpy/PyTorch (the inputs are drawn as
oracle.py draws them).
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: PyTorch/numpy not importable ({e})", file=sys.stderr)
    sys.exit(77)

import oracle  # noqa: E402
import st  # noqa: E402
import torch_ref  # noqa: E402

# f64 sums of up to 8 rows in another order: ~1e-16 per op, 6 steps of a
# small MLP amplify it far less than 1e4 (the measured worst is ~1e-15)
TOL = 1e-12

CASES = [  # model, --set arguments that make it the case
    ("sgd_mnw.lua", []),
    ("sam_sgdm.lua", []),
    ("asam_sgd.lua", []),
    ("sam_adamw.lua", ["optimizer.sam.adaptive=true"]),
    ("sam_sgdm.lua", ["optimizer.sam.gsam.alpha=0.3", "optimizer.sam.adaptive=true",
                      "optimizer.sam.eta=0.01"]),
]


def run(samc, model, init, batches, out, steps, backend, sets):
    cmd = [samc, "steps", model, "--init", init, "--batches", batches, "--steps", str(steps),
           "--out", out, "--dtype", "f64", "--backend", backend]
    for s in sets:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return st.read(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--backend", default="interp")
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        for name, sets in CASES:
            path = os.path.join(HERE, "models", name)
            model = torch_ref.Model(torch_ref.trace(path))
            init, batches = oracle.make_case(model, "f64", args.steps, 1234)
            ip, bp = oracle.write_inputs(model, init, batches, "f64", d)
            big = run(args.samc, path, ip, bp, os.path.join(d, "big.st"), args.steps,
                      args.backend, sets)
            for k in (2, 4):
                acc = run(args.samc, path, ip, bp, os.path.join(d, f"acc{k}.st"), args.steps,
                          args.backend, sets + [f"optimizer.accumulate={k}"])
                for t in sorted(big):
                    err, kind = oracle.rel_err(acc[t], big[t])
                    ok = err <= TOL
                    fails += not ok
                    print(f"{'ok  ' if ok else 'FAIL'} {name} {' '.join(sets)} accumulate={k} "
                          f"{args.backend} {t}: {kind} err {err:.2e} (tol {TOL:.0e})")
                for t in sorted(set(acc) - set(big)):  # the accumulators, zero between steps
                    z = float(np.max(np.abs(acc[t]))) if acc[t].size else 0.0
                    ok = t.startswith("accum.") and z == 0.0
                    fails += not ok
                    print(f"{'ok  ' if ok else 'FAIL'} {name} accumulate={k} {t}: max |x| {z}")
    print("accum_equiv: " + ("all agree" if not fails else f"{fails} failures"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
