"""trainer.py - the trainer, end to end: `samc MODEL --epochs 1` on the CPU
backend against the reference interpreter.

Each repetition runs both backends (alternating which goes first) on the
same model, seed and data, so that machine noise hits both alike, and
reads the epoch's training throughput (samples/s of the epoch, from
--metrics) and the test accuracy; the wall time of the whole command
(loading, compiling, training, evaluation) is reported beside it.
bench/run.sh trainer builds samc and calls this.
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("interp", "cpu")


def run(samc, model, backend, threads):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [samc, model, "--epochs", "1", "--quiet", "--backend", backend,
               "--metrics", metrics]
        if threads:
            cmd += ["--threads", str(threads)]
        t0 = time.monotonic()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"trainer.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        with open(metrics) as f:
            epoch = [json.loads(line) for line in f if '"kind":"epoch"' in line][-1]
    return {"backend": backend, "sps": epoch["samples_per_s"], "wall": wall,
            "acc": epoch["test_accuracy"], "epoch_s": epoch["seconds"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--model", default="examples/fashion_mlp.lua")
    ap.add_argument("--threads", type=int, default=0, help="compiled steps' threads (0: all)")
    a = ap.parse_args()
    samc = os.path.join(a.build_dir, "samc")
    runs = []
    for rep in range(a.reps):
        order = BACKENDS if rep % 2 == 0 else BACKENDS[::-1]
        pair = {b: run(samc, a.model, b, a.threads) for b in order}
        runs.append(pair)
        print(f"rep {rep + 1}/{a.reps}: interp {pair['interp']['sps']:.0f} samples/s, "
              f"cpu {pair['cpu']['sps']:.0f} samples/s, "
              f"ratio {pair['cpu']['sps'] / pair['interp']['sps']:.1f}x", file=sys.stderr)
    med = statistics.median
    print(f"## Trainer: CPU backend vs interpreter ({datetime.date.today()})\n")
    print(f"`samc {a.model} --epochs 1`, {a.reps} interleaved repetitions; "
          f"{platform.machine()}, {os.cpu_count()} cores, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"load average at the end {os.getloadavg()[0]:.2f}.\n")
    print("| backend | epoch samples/s (median) | best | command wall s (median) | test accuracy |")
    print("|---|---|---|---|---|")
    for b in BACKENDS:
        v = [r[b] for r in runs]
        print(f"| {b} | {med(x['sps'] for x in v):.0f} | {max(x['sps'] for x in v):.0f} "
              f"| {med(x['wall'] for x in v):.2f} | {v[0]['acc']:.4f} |")
    ratios = [r["cpu"]["sps"] / r["interp"]["sps"] for r in runs]
    walls = [r["interp"]["wall"] / r["cpu"]["wall"] for r in runs]
    print(f"\nTraining throughput, cpu / interp, per repetition: median {med(ratios):.1f}x "
          f"(range {min(ratios):.1f}x to {max(ratios):.1f}x). Whole command (loading, "
          f"compiling, evaluation included): median {med(walls):.1f}x.")


if __name__ == "__main__":
    main()
