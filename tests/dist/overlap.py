#!/usr/bin/python3
"""overlap.py - the overlapped all-reduce (allreduce_overlap) is bit-identical.

On 2 ranks the accumulators are all-reduced either after the last
micro-batch program of a step (allreduce_overlap = false) or during it, in
buckets handed to a communication thread as their final values are written
(runtime/rt_overlap.h). Every element is the same rank-order sum either way,
so after K steps every tensor must be bit for bit the same, for

  - SGD (momentum, Nesterov, weight decay),
  - SAM with sam.sync = true (two all-reduced runs a step) and per replica,

in f64 and f32, with one bucket per tensor (allreduce_bucket_mb tiny), a
few tensors a bucket (f64) and the default 25 MiB (one bucket); and a
trainer built with `samc build --ranks 2` (examples/fashion_mlp.lua,
sam.sync, an epoch of a Fashion-MNIST subset): its checkpoints with and
without overlap are the same file. With SAMC_DEBUG=1 rank 0 says how many
buckets went before the program's end: with a tiny bucket some must (else
the test would compare the plain form with itself).

With --cuda (the environment naming the host stand-ins for the CUDA
driver, cuBLAS and NCCL: SAMC_CUDA_DRIVER, SAMC_CUDA_BLAS, SAMC_NCCL_LIB)
the same holds on the CUDA backend with NCCL, where the buckets go on the
device's side queue (a stream beside the kernels) instead of a thread:
sam_sgdm.lua, sam.sync and per replica, f32, bit for bit the run without
overlap, with one tensor a bucket, a few tensors packed a bucket and one
bucket; the stand-in's log shows every sum of the overlapped runs on the
side stream and none of the plain runs' there; with the smaller buckets
some went before the program's end.

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" \\
    /usr/bin/python3 tests/dist/overlap.py --samc build/samc [--steps K] [--cuda]

Exit 1 on a difference, 77 without numpy/PyTorch or SAMC_MPIRUN.
"""

import argparse
import os
import re
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

CASES = [  # model, --set arguments, dtypes
    ("sgd_mnw.lua", [], ("f64", "f32")),
    ("sam_sgdm.lua", ["optimizer.sam.sync=true"], ("f64", "f32")),
    ("sam_sgdm.lua", [], ("f64", "f32")),
]
# bucket sizes in MiB: one tensor a bucket, a few, the default (one bucket)
BUCKETS = ["0.000001", "0.004", "25"]
EARLY = re.compile(r"allreduce_overlap: (\d+) buckets, (\d+) of them during the backward pass")


def run(launch, samc, model, init, batches, out, steps, dtype, sets, device="cpu", env=None):
    cmd = launch + [samc, "steps", model, "--init", init, "--batches", batches, "--steps",
                    str(steps), "--out", out, "--dtype", dtype, "--device", device]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, SAMC_DEBUG="1", **(env or {}))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    m = EARLY.findall(r.stderr)
    return st.read(out), (max(int(e) for _, e in m) if m else -1)


def trainer(two, samc, d):
    """A built trainer on 2 ranks: the same checkpoint with and without overlap."""
    model = os.path.join(HERE, "..", "..", "examples", "fashion_mlp.lua")
    tr = os.path.join(d, "trainer")
    r = subprocess.run([samc, "build", model, "--ranks", "2", "--quiet", "--set",
                        "optimizer.sam.sync=true", "-o", tr],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print(f"FAIL samc build --ranks 2: {r.stdout}{r.stderr}")
        return 1
    out, early = {}, 0
    for tag, sets in (("off", ["allreduce_overlap=false"]),
                      ("on", ["allreduce_overlap=true", "allreduce_bucket_mb=0.000001"])):
        cmd = two + [tr, "--epochs", "1", "--threads", "1", "--quiet", "--checkpoint-dir",
                     os.path.join(d, "T" + tag), "--set", "data.limit_train=512", "--set",
                     "data.limit_test=128"]
        for x in sets:
            cmd += ["--set", x]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, SAMC_DEBUG="1"))
        if r.returncode != 0:
            print(f"FAIL the trainer on 2 ranks ({tag}): {r.stdout}{r.stderr}")
            return 1
        m = EARLY.findall(r.stderr)
        early = max([int(e) for _, e in m] + [early])
        with open(os.path.join(d, "T" + tag, "last.safetensors"), "rb") as f:
            out[tag] = f.read()
    ok = out["on"] == out["off"] and early > 0
    print(f"{'ok  ' if ok else 'FAIL'} trainer --ranks 2, sam.sync: the checkpoint "
          f"{'is' if out['on'] == out['off'] else 'is NOT'} the same file with and without "
          f"overlap ({early} buckets during the backward pass)")
    return 0 if ok else 1


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def cuda(two, samc, steps, d):
    """The CUDA backend with NCCL (stand-ins): the buckets on the side queue."""
    nccl = os.environ.get("SAMC_NCCL_LIB")
    if not nccl or not os.environ.get("SAMC_CUDA_DRIVER"):
        print("SKIP: SAMC_NCCL_LIB or SAMC_CUDA_DRIVER is not set (tests/dist/step.cmake "
              "sets them)", file=sys.stderr)
        return None
    path = os.path.join(ORACLE, "models", "sam_sgdm.lua")
    model = torch_ref.Model(torch_ref.trace(path))
    init, batches = oracle.make_case(model, "f32", steps, 1234)
    ip, bp = oracle.write_inputs(model, init, batches, "f32", d)
    fails = 0
    for sets in (["optimizer.sam.sync=true"], []):
        label = f"cuda+NCCL sam_sgdm.lua {' '.join(sets) or 'per replica'} f32"

        def go(tag, extra):
            log = os.path.join(d, tag + ".log")
            env = {"SAMC_NCCL": nccl, "SAMC_STANDIN_GPUS": "2", "TMPDIR": d,
                   "SAMC_NCCL_STANDIN_LOG": log}
            got, early = run(two, samc, path, ip, bp, os.path.join(d, tag + ".st"), steps, "f32",
                             sets + extra, "cuda", env)
            return got, early, [c[4] for c in read_log(log)]

        plain, _, where = go("cplain", ["allreduce_overlap=false"])
        ok = len(where) > 0 and set(where) == {"default"}
        fails += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label} without overlap: {len(where)} sums, on "
              f"{', '.join(sorted(set(where))) or 'nothing'} (want the default stream)")
        # one tensor a bucket; a few (fc3's weight and bias packed, sent
        # early: the device form's packing on the side queue); one bucket
        for mb in ("0.000001", "0.0003", "25"):
            got, early, where = go("cov" + mb, ["allreduce_overlap=true",
                                               f"allreduce_bucket_mb={mb}"])
            diff = [t for t in plain if t not in got or not np.array_equal(got[t], plain[t])]
            side = len(where) > 0 and set(where) == {"side"}
            ok = not diff and side and (mb == "25" or early > 0)
            fails += not ok
            why = (f"differs in {', '.join(diff[:4])}" if diff else
                   f"bit-identical, {len(where)} sums on {', '.join(sorted(set(where)))}, "
                   f"{early} buckets during the backward pass")
            print(f"{'ok  ' if ok else 'FAIL'} {label} bucket {mb} MiB: {why}")
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--cuda", action="store_true",
                    help="the CUDA backend with NCCL, through the host stand-ins")
    args = ap.parse_args()
    launcher = os.environ.get("SAMC_MPIRUN")
    if not launcher:
        print("SKIP: SAMC_MPIRUN is not set (tests/dist/tests.cmake sets it)", file=sys.stderr)
        return 77
    two = shlex.split(launcher) + ["-np", "2"]
    if args.cuda:
        with tempfile.TemporaryDirectory() as d:
            fails = cuda(two, args.samc, args.steps, d)
        if fails is None:
            return 77
        print("overlap --cuda: " + ("all bit-identical" if not fails else f"{fails} failures"))
        return 1 if fails else 0
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        for name, sets, dtypes in CASES:
            path = os.path.join(ORACLE, "models", name)
            model = torch_ref.Model(torch_ref.trace(path))
            for dtype in dtypes:
                init, batches = oracle.make_case(model, dtype, args.steps, 1234)
                ip, bp = oracle.write_inputs(model, init, batches, dtype, d)
                label = f"{name} {' '.join(sets) or 'default'} {dtype}"

                def go(tag, extra):
                    return run(two, args.samc, path, ip, bp, os.path.join(d, tag + ".st"),
                               args.steps, dtype, sets + extra)

                plain, _ = go("plain", ["allreduce_overlap=false"])
                for mb in BUCKETS if dtype == "f64" else BUCKETS[::2]:
                    got, early = go("ov" + mb, ["allreduce_overlap=true",
                                                f"allreduce_bucket_mb={mb}"])
                    diff = [t for t in plain if t not in got or
                            not np.array_equal(got[t], plain[t])]
                    ok = not diff and (mb != BUCKETS[0] or early > 0)
                    fails += not ok
                    why = (f"differs in {', '.join(diff[:4])}" if diff else
                           f"bit-identical, {early} buckets during the backward pass")
                    print(f"{'ok  ' if ok else 'FAIL'} {label} bucket {mb} MiB: {why}")
        fails += trainer(two, args.samc, d)
    print("overlap: " + ("all bit-identical" if not fails else f"{fails} failures"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
