"""compare.py - one build of samc against another, on the same machine, interleaved.

Runs `samc_bench steps MODEL` of two builds (an earlier one, OLD, and this
one, NEW) on both bench MLPs, alternating which build goes first in each
repetition, so that machine noise hits both alike. For every step kind
(base, sam) and model it reports the median step time of each build and
the ratio NEW / OLD per repetition (median and range over repetitions):
below 1 is faster. Also runs `samc_bench opt` (the optimizer part alone:
SAM norm, perturbation and update), where a change to the SAM norm's
reductions shows first. bench/run.sh compare OLD_BUILD_DIR builds this
checkout and calls this; see bench/README.md.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = {"small": "bench/models/mlp_small.lua", "medium": "bench/models/mlp_medium.lua"}
LABEL = {"small": "MLP 784-256-10", "medium": "MLP 784-1024-1024-10"}


def med(v):
    return statistics.median(v) if v else float("nan")


def bench_steps(build, cmd, model, threads, steps):
    exe = os.path.join(build, "bench", "samc_bench")
    argv = [exe, cmd, MODELS[model], "--threads", str(threads), "--steps", str(steps),
            "--blocks", "2", "--warmup", "5"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"compare.py: {' '.join(argv)} failed ({r.returncode}):\n{r.stderr}")
    out = {}
    for line in r.stdout.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if "median_ms" in rec and rec.get("prog") in ("base", "sam", "opt_sam", "opt_base"):
            out.setdefault(rec["prog"], []).append(rec["median_ms"])
        elif "median_ms" in rec and cmd == "opt":
            out.setdefault(rec.get("prog", "opt"), []).append(rec["median_ms"])
    return {k: med(v) for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="build directory of the earlier samc")
    ap.add_argument("--new", required=True, help="build directory of this samc")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="few steps, for checking the script")
    a = ap.parse_args()
    builds = {"old": os.path.abspath(a.old), "new": os.path.abspath(a.new)}
    steps = {"small": 10, "medium": 4} if a.quick else {"small": 60, "medium": 15}
    started = datetime.datetime.now().astimezone()
    # times[(cmd, model, prog)][build] = per-repetition medians
    times = {}
    for rep in range(a.reps):
        order = ("old", "new") if rep % 2 == 0 else ("new", "old")
        for model in MODELS:
            for cmd in ("steps", "opt"):
                for b in order:
                    res = bench_steps(builds[b], cmd, model, a.threads, steps[model])
                    for prog, ms in res.items():
                        times.setdefault((cmd, model, prog), {"old": [], "new": []})[b].append(ms)
        print(f"repetition {rep + 1}/{a.reps} done", file=sys.stderr, flush=True)

    print(f"# samc: this build against an earlier one ({started:%Y-%m-%d %H:%M %Z}, "
          f"{a.threads} threads, {a.reps} interleaved repetitions)\n")
    print(f"old: `{builds['old']}`  new: `{builds['new']}`\n")
    print("| what | model | old ms | new ms | new/old (median) | new/old (range) |")
    print("|---|---|---|---|---|---|")
    for (cmd, model, prog), t in sorted(times.items()):
        n = min(len(t["old"]), len(t["new"]))
        if n == 0:
            continue
        ratios = [t["new"][i] / t["old"][i] for i in range(n)]
        what = "optimizer part (SAM)" if cmd == "opt" else f"{prog} step"
        print(f"| {what} | {LABEL[model]} | {med(t['old']):.3f} | {med(t['new']):.3f} | "
              f"{med(ratios):.3f} | {min(ratios):.3f}-{max(ratios):.3f} |")


if __name__ == "__main__":
    main()
