"""dist.py - data-parallel SAM: step time with 1 and 2 ranks, and a model of
the speed-up on many.

For each model (the medium MLP, the CNN of examples/fashion_cnn.lua) it
trains one epoch of the first N examples of Fashion-MNIST three ways: one
process (SAM), 2 ranks with per-replica SAM (one all-reduce a step) and 2
ranks with optimizer.sam.sync = true (two), under `mpirun -np 2`, each rank
with --threads T. From the epoch's samples/s (the training loop's own time)
it gives ms per optimizer step, and from rank 0's communicator counters
(`samc: rank 0: X s in collectives, Y MB sent`) the time inside collectives
per step (waiting for the slower rank included) and the bytes a step
all-reduces.

Then the alpha-beta model of a ring all-reduce of G bytes on N ranks,
2 (N-1)/N * G/beta + 2 (N-1) alpha, on a 100 Gb/s network (beta = 12.5
GB/s, alpha given by --alpha-us), against the measured one-process step:
weak scaling (each rank keeps the measured batch), speed-up =
N * T1 / (T1 + C(N)), for 8, 64 and 512 ranks, with one all-reduce per
tensor (what samc does: the store allocates each accumulator on its own)
and with one bucket for all of them.

With --overlap it measures instead the accumulators' all-reduce after the
last micro-batch program (allreduce_overlap = false) against the same
during its backward pass (runtime/rt_overlap.h), with 25 MiB buckets (the
default: one bucket for these models) and 1 MiB ones, on 2 ranks, the runs
interleaved, and prints the alpha-beta model's view: the part of the
all-reduce a step can hide behind the backward pass that follows the
first bucket's last gradient.

  python3 bench/dist.py --build-dir build [--threads 1] [--reps 2] [--overlap]
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MODELS = [  # name, file, batch, optimizer steps per run
    ("medium MLP", "bench/models/mlp_medium.lua", 128, 40),
    ("fashion_cnn", "examples/fashion_cnn.lua", 64, 16),
]
VARIANTS = [  # name, ranks, --set arguments
    ("1 process", 1, []),
    ("2 ranks, per-replica", 2, []),
    ("2 ranks, sam.sync", 2, ["optimizer.sam.sync=true"]),
]
OVERLAP_VARIANTS = [  # name, ranks, --set arguments (2 ranks, on and off alternating)
    ("per-replica, after the backward", 2, ["allreduce_overlap=false"]),
    ("per-replica, overlap, 25 MiB", 2, ["allreduce_overlap=true", "allreduce_bucket_mb=25"]),
    ("per-replica, overlap, 1 MiB", 2, ["allreduce_overlap=true", "allreduce_bucket_mb=1"]),
    ("sam.sync, after the backward", 2, ["optimizer.sam.sync=true", "allreduce_overlap=false"]),
    ("sam.sync, overlap, 25 MiB", 2, ["optimizer.sam.sync=true", "allreduce_overlap=true",
                                      "allreduce_bucket_mb=25"]),
    ("sam.sync, overlap, 1 MiB", 2, ["optimizer.sam.sync=true", "allreduce_overlap=true",
                                     "allreduce_bucket_mb=1"]),
]
LINK_BYTES_S = 100e9 / 8  # 100 Gb/s


OVERLAP_LINE = re.compile(r"allreduce_overlap: (\d+) buckets, (\d+) of them during the backward "
                          r"pass; ([0-9.]+) s in the all-reduces, ([0-9.]+) s of it after")


def run(mpirun, samc, model, ranks, sets, limit, threads, stats=None):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [samc, model, "--epochs", "1", "--metrics", metrics, "--threads", str(threads),
               "--set", f"data.limit_train={limit}", "--set", "data.limit_test=256"]
        for s in sets:
            cmd += ["--set", s]
        if ranks > 1:
            cmd = mpirun + ["-np", str(ranks)] + cmd
        env = dict(os.environ, SAMC_DEBUG="1") if stats is not None else None
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"dist.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        with open(metrics) as f:
            epoch = [json.loads(line) for line in f if '"kind":"epoch"' in line][-1]
    if stats is not None:  # rank 0's (the first) line, when the run overlapped
        o = OVERLAP_LINE.search(r.stderr)
        stats.append(tuple(float(v) for v in o.groups()) if o else None)
    m = re.search(r"rank 0: ([0-9.]+) s in collectives, ([0-9.]+) MB sent", r.stdout)
    k = re.search(r": (\d+) params", r.stdout)  # the parameter tensors
    return (epoch["samples_per_s"], (float(m.group(1)), float(m.group(2)) * 1e6) if m
            else (0, 0), int(k.group(1)) if k else 0)


def overlap(args):
    samc = os.path.abspath(os.path.join(args.build_dir, "samc"))
    mpirun = args.mpirun.split()
    print(f"# bench/dist.py --overlap, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} cores, --threads {args.threads} per rank, best of {args.reps}, "
          f"load average {os.getloadavg()[0]:.1f} at the start\n")
    for name, model, batch, steps in MODELS:
        res, ov = {}, {}
        for _ in range(args.reps):  # on and off alternate: noise hits all alike
            for vname, ranks, sets in OVERLAP_VARIANTS:
                st = ov.setdefault(vname, [])
                sps, (cs, cb), _ = run(mpirun, samc, model, ranks, sets, batch * steps,
                                       args.threads, st)
                res.setdefault(vname, []).append((batch / sps * 1e3, cs / steps * 1e3,
                                                  cb / steps))
        print(f"## {name} (batch {batch}, {steps} steps, 2 ranks)\n")
        print("| all-reduce | ms / step (best) | ms / step (median) | ms / step in collectives "
              "(rank 0, best run) | sent / step | buckets / step (during the backward) | "
              "all-reduce hidden behind the kernels |")
        print("|---|---|---|---|---|---|---|")
        for vname, _, _ in OVERLAP_VARIANTS:
            b = min(res[vname])
            med = statistics.median(r[0] for r in res[vname])
            o = [x for x in ov[vname] if x]
            if o:  # summed over the runs: buckets, early ones, seconds in and after
                tot = [sum(x[i] for x in o) for i in range(4)]
                nst = steps * len(o) + 1  # + the steps of the data's last partial batch
                bk = f"{tot[0] / nst:.1f} ({tot[1] / nst:.1f})"
                hid = f"{100 * (1 - tot[3] / tot[2]):.0f} %" if tot[2] > 0 else "-"
            else:
                bk, hid = "-", "-"
            print(f"| {vname} | {b[0]:.2f} | {med:.2f} | {b[1]:.3f} | {b[2] / 1e6:.3f} MB | "
                  f"{bk} | {hid} |")
        print()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--threads", type=int, default=1, help="threads per rank")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--alpha-us", type=float, default=5.0,
                    help="the network's per-message latency, microseconds")
    ap.add_argument("--mpirun", default="mpirun --allow-run-as-root --oversubscribe --bind-to none")
    ap.add_argument("--overlap", action="store_true",
                    help="allreduce_overlap off and on (2 ranks) instead")
    args = ap.parse_args()
    if args.overlap:
        return overlap(args)
    samc = os.path.abspath(os.path.join(args.build_dir, "samc"))
    mpirun = args.mpirun.split()
    alpha = args.alpha_us * 1e-6
    print(f"# bench/dist.py, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} cores, --threads {args.threads} per rank, best of {args.reps}\n")
    for name, model, batch, steps in MODELS:
        res = {}
        for _ in range(args.reps):  # the variants alternate: noise hits all alike
            for vname, ranks, sets in VARIANTS:
                sps, (cs, cb), k = run(mpirun, samc, model, ranks, sets, batch * steps,
                                       args.threads)
                res.setdefault(vname, []).append((batch / sps * 1e3, cs / steps * 1e3,
                                                  cb / steps))
        print(f"## {name} (batch {batch}, {steps} steps)\n")
        print("| run | ms / step | ms / step in collectives (rank 0) | bytes sent / step |")
        print("|---|---|---|---|")
        best = {}
        for vname, _, _ in VARIANTS:
            b = min(res[vname])
            best[vname] = b
            print(f"| {vname} | {b[0]:.2f} | {b[1]:.3f} | {b[2] / 1e6:.3f} MB |")
        t1 = best["1 process"][0] * 1e-3
        # with 2 ranks a rank sends 2 (N-1)/N = 1 times what it all-reduces
        g_rep = best["2 ranks, per-replica"][2]
        g_sync = best["2 ranks, sam.sync"][2]
        print(f"\nModel: {k} parameter tensors; all-reduced per step {g_rep / 1e6:.2f} MB "
              f"(per-replica) and {g_sync / 1e6:.2f} MB (sam.sync); step compute T1 = "
              f"{t1 * 1e3:.2f} ms at batch {batch} per rank; 100 Gb/s, alpha = "
              f"{args.alpha_us:g} us.\n")
        print("| ranks | SAM | all-reduce ms / step (per tensor) | speed-up (per tensor) | "
              "all-reduce ms / step (one bucket) | speed-up (one bucket) |")
        print("|---|---|---|---|---|---|")
        for n in (8, 64, 512):
            for kind, g, calls in (("per-replica", g_rep, 1), ("sync", g_sync, 2)):
                bw = 2 * (n - 1) / n * g / LINK_BYTES_S
                per_tensor = bw + 2 * (n - 1) * alpha * k * calls
                bucket = bw + 2 * (n - 1) * alpha * calls
                print(f"| {n} | {kind} | {per_tensor * 1e3:.2f} | "
                      f"{n * t1 / (t1 + per_tensor):.1f} | {bucket * 1e3:.2f} | "
                      f"{n * t1 / (t1 + bucket):.1f} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
