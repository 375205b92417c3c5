"""msharp.py - the step cost of m-sharpness (optimizer.sam.m) and gradient
accumulation (optimizer.accumulate) against the base and SAM steps.

Each variant is the same model and batch with one --set: the base step
(optimizer.sam.every = 10^9: SAM on step 0 only), SAM, SAM with m = 2 and 4
(micro-batches of batch/m, each perturbed by its own gradient), and SAM
with accumulate = 2 for comparison. Every variant trains the first N
examples of Fashion-MNIST for one epoch through `samc MODEL` on the CPU
backend; the epoch's samples/s (from --metrics: the training loop's own
time, data included, compile time not) gives ms per optimizer step. The
variants alternate within each repetition so machine noise hits all alike.

  python3 bench/msharp.py --build-dir build [--reps 3] [--model bench/models/mlp_medium.lua]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

VARIANTS = [  # name, --set arguments
    ("base", ["optimizer.sam.every=1000000000"]),
    ("SAM", []),
    ("SAM m=2", ["optimizer.sam.m=2"]),
    ("SAM m=4", ["optimizer.sam.m=4"]),
    ("SAM accumulate=2", ["optimizer.accumulate=2"]),
]


def run(samc, model, sets, limit, threads):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [samc, model, "--epochs", "1", "--quiet", "--metrics", metrics,
               "--set", f"data.limit_train={limit}", "--set", "data.limit_test=256"]
        for s in sets:
            cmd += ["--set", s]
        if threads:
            cmd += ["--threads", str(threads)]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"msharp.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        with open(metrics) as f:
            epoch = [json.loads(line) for line in f if '"kind":"epoch"' in line][-1]
    return epoch["samples_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--model", default="bench/models/mlp_medium.lua")
    ap.add_argument("--batch", type=int, default=128, help="the model's batch_size")
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps per run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    samc = os.path.abspath(os.path.join(a.build_dir, "samc"))
    limit = a.batch * a.steps
    load0 = os.getloadavg()[0]
    sps = {name: [] for name, _ in VARIANTS}
    for rep in range(a.reps):
        order = VARIANTS if rep % 2 == 0 else VARIANTS[::-1]
        for name, sets in order:
            sps[name].append(run(samc, a.model, sets, limit, a.threads))
        print(f"rep {rep + 1}/{a.reps}: " + ", ".join(
            f"{n} {sps[n][-1]:.0f}/s" for n, _ in VARIANTS), file=sys.stderr)
    load1 = os.getloadavg()[0]
    ms = {n: [a.batch / s * 1e3 for s in v] for n, v in sps.items()}
    sam = statistics.median(ms["SAM"])
    base = statistics.median(ms["base"])
    print(f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  ")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average {load0:.1f} at start, {load1:.1f} at end  ")
    print(f"Model: {a.model}, batch {a.batch}, {a.steps} steps per run, {a.reps} "
          f"interleaved repetitions, CPU backend{f', {a.threads} threads' if a.threads else ''}\n")
    print("| step | ms per step: median (range) | samples/s | / base step | / SAM step |")
    print("|---|---|---|---|---|")
    for n, _ in VARIANTS:
        v = ms[n]
        med = statistics.median(v)
        print(f"| {n} | {med:.1f} ({min(v):.1f}-{max(v):.1f}) | {a.batch / med * 1e3:.0f} | "
              f"{med / base:.2f}x | {med / sam:.2f}x |")


if __name__ == "__main__":
    main()
