#!/usr/bin/python3
"""nccl_steps.py - `samc steps --device cuda` on 2 ranks with NCCL, through
the host stand-ins for the CUDA driver, cuBLAS and NCCL; and `samc steps
--eval` sharded over the ranks.

The environment names the stand-ins (SAMC_CUDA_DRIVER, SAMC_CUDA_BLAS,
SAMC_CUDA_DNN, SAMC_CACHE_DIR) and SAMC_NCCL_LIB the NCCL stand-in; this
script sets SAMC_NCCL, SAMC_STANDIN_GPUS and SAMC_NCCL_STANDIN_LOG per run.
On sam_sgdm.lua with optimizer.sam.sync (two accumulator kinds a step,
accum.grad and accum.sam), f32, K steps:

  - cuda on 2 ranks with NCCL (SAMC_NCCL = the stand-in, 2 stand-in GPUs)
    equals the cpu backend on 2 ranks within the oracle's f32 tolerance
    (the CUDA-vs-CPU tolerance of tests/oracle), weights, optimizer state,
    losses and the eval outputs;
  - it took NCCL: the stand-in logged one ncclAllReduce per accumulator
    kind a step on each rank (the accumulators packed into one device
    buffer), each of all the parameters' elements;
  - SAMC_NCCL=0 (the sums staged through the host, in rank order) gives the
    same bits as NCCL (the stand-in also sums in rank order: the device
    bucket packs and unpacks exactly), and NCCL was not called;
  - SAMC_NCCL naming a missing library: exit 1 naming it; SAMC_NCCL unset
    with 2 ranks on 1 GPU: a note, the sums through the host, the same bits;
  - --eval on 2 ranks (each rank evaluates half the eval micro-batches, the
    sums all-reduced) equals one process's --eval on the cpu backend within
    the f32 tolerance.

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" SAMC_NCCL_LIB=... \\
    /usr/bin/python3 tests/dist/nccl_steps.py --samc build/samc

Exit 1 on a disagreement, 77 without numpy/PyTorch, SAMC_MPIRUN or the
stand-ins.
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

TOL = oracle.TOL["f32"]  # CUDA against the CPU: the oracle's f32 tolerance
MODEL = os.path.join(ORACLE, "models", "sam_sgdm.lua")
SETS = ["--set", "optimizer.sam.sync=true"]
KINDS = 2  # accum.grad and accum.sam


class Run:
    def __init__(self, samc, launch, d, ip, bp, steps):
        self.samc, self.launch, self.d, self.ip, self.bp, self.steps = \
            samc, launch, d, ip, bp, steps

    def __call__(self, tag, backend, ranks, env=None, ok=True):
        out = os.path.join(self.d, tag + ".st")
        cmd = (self.launch + ["-np", str(ranks)] if ranks > 1 else []) + \
            [self.samc, "steps", MODEL, "--init", self.ip, "--batches", self.bp, "--steps",
             str(self.steps), "--out", out, "--dtype", "f32", "--device", backend, "--eval"] + SETS
        full = dict(os.environ)
        full.pop("SAMC_NCCL", None)
        full.update(env or {})
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=full)
        if ok and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return (st.read(out) if r.returncode == 0 else None), r


def compare(label, got, want, tol):
    """(fails, bit-identical) over every tensor of want but the accumulators"""
    fails, same = 0, True
    for t in sorted(want):
        if t.startswith("accum."):
            continue
        err, kind = oracle.rel_err(got[t], want[t])
        same = same and np.array_equal(got[t], want[t])
        if err > tol:
            fails += 1
            print(f"FAIL {label} {t}: {kind} err {err:.2e} (tol {tol:.0e})")
    return fails, same


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def report(ok, what):
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    launcher = os.environ.get("SAMC_MPIRUN")
    nccl = os.environ.get("SAMC_NCCL_LIB")
    if not launcher or not nccl or not os.environ.get("SAMC_CUDA_DRIVER"):
        print("SKIP: SAMC_MPIRUN, SAMC_NCCL_LIB or SAMC_CUDA_DRIVER is not set "
              "(tests/dist/step.cmake sets them)", file=sys.stderr)
        return 77
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        model = torch_ref.Model(torch_ref.trace(MODEL))
        init, batches = oracle.make_case(model, "f32", args.steps, 1234)
        ip, bp = oracle.write_inputs(model, init, batches, "f32", d)
        run = Run(args.samc, shlex.split(launcher), d, ip, bp, args.steps)
        log = os.path.join(d, "nccl.log")
        two_gpus = {"SAMC_STANDIN_GPUS": "2", "TMPDIR": d}

        cpu2, _ = run("cpu2", "cpu", 2)
        cpu1, _ = run("cpu1", "cpu", 1)
        on, r_on = run("nccl", "cuda", 2, dict(two_gpus, SAMC_NCCL=nccl,
                                                SAMC_NCCL_STANDIN_LOG=log))
        calls = read_log(log)
        off, _ = run("off", "cuda", 2, dict(two_gpus, SAMC_NCCL="0", SAMC_NCCL_STANDIN_LOG=log))

        f, _ = compare("cuda+NCCL vs cpu, 2 ranks", on, cpu2, TOL)
        fails += f + report(f == 0, f"cuda on 2 ranks with NCCL equals cpu on 2 ranks within "
                            f"{TOL:.0e} after {args.steps} steps (weights, state, loss, eval)")
        nparam = sum(int(np.prod(tuple(init[t].shape))) for t in init)
        per_rank = [[c for c in calls if c[1] == str(r)] for r in (0, 1)]
        good = all(len(p) == KINDS * args.steps and all(c[2] == str(nparam) and c[3] == "f32"
                                                        for c in p) for p in per_rank)
        fails += report(good, f"NCCL took the sums: {len(calls)} ncclAllReduce calls of "
                        f"{nparam} values, {KINDS} per step per rank (want {KINDS * args.steps} "
                        f"a rank)")
        if not good:
            print(f"  the log: {calls[:8]}...\n  stderr: {r_on.stderr}")
        f, bits = compare("SAMC_NCCL=0 vs NCCL", off, on, 0)
        fails += f + report(bits and len(read_log(log)) == len(calls),
                            "SAMC_NCCL=0: the sums through the host, bit for bit NCCL's, "
                            "NCCL not called")

        missing = os.path.join(d, "no", "libnccl.so.2")
        _, r = run("missing", "cuda", 2, dict(two_gpus, SAMC_NCCL=missing), ok=False)
        fails += report(r.returncode == 1 and missing in r.stderr and "not found" in r.stderr,
                        "SAMC_NCCL naming a missing library: exit 1, the library named")
        if r.returncode != 1:
            print(f"  exit {r.returncode}: {r.stderr}")
        shared, r = run("shared", "cuda", 2, {"SAMC_STANDIN_GPUS": "1", "TMPDIR": d})
        f, bits = compare("2 ranks on 1 GPU vs NCCL", shared, on, 0)
        fails += f + report(bits and "samc: note:" in r.stderr and "through the host" in
                            r.stderr, "SAMC_NCCL unset, 2 ranks on 1 GPU: a note, the sums "
                            "through the host, the same bits")

        ev = sorted(t for t in cpu1 if t.startswith("eval."))
        f, _ = compare("--eval on 2 ranks vs 1 process", {t: cpu2[t] for t in ev},
                       {t: cpu1[t] for t in ev}, TOL)
        fails += f + report(f == 0 and len(ev) > 0, f"--eval sharded over 2 ranks equals one "
                            f"process within {TOL:.0e} ({', '.join(ev)})")
    print("nccl_steps: " + ("all agree" if not fails else f"{fails} failures"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
