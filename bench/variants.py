"""variants.py - the per-step cost of SAM's variants against the base and SAM steps.

One run, interleaved: each repetition compiles and times every distinct
compile the case table needs, on each model, alternating the order between
repetitions, so that machine noise hits every case alike. A compile is
`samc_bench steps MODEL --set ...`: the model's base program and SAM
program under those recipe keys, timed in alternating blocks. Each case
turns the two step times of its compile into its cost per optimizer step.
Prints a markdown report and writes it, with the raw JSON lines, next to
samc_bench (bench/README.md: what the numbers mean).

  /usr/bin/python3 bench/variants.py --build-dir build [--reps 3] [--quick]
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
BATCH = 128
# model key: (file, batch override, label)
MODELS = {"medium": ("bench/models/mlp_medium.lua", 0, "MLP 784-1024-1024-10"),
          "cnn": ("examples/fashion_cnn.lua", BATCH, "examples/fashion_cnn.lua")}
K = 5  # LookSAM's period
LOOKSAM = (f"optimizer.sam.looksam.k={K}", "optimizer.sam.looksam.alpha=0.7")

# The case table, one line per case: its name, the --set keys of its
# compile, and its cost per optimizer step from that compile's base and SAM
# step times (ms). Cases with the same keys share one compile.
CASES = [
    ("base (SGD, one forward/backward)", (), lambda base, sam: base),
    ("SAM", (), lambda base, sam: sam),
    (f"LookSAM k={K}: its SAM step (+ g_v)", LOOKSAM, lambda base, sam: sam),
    (f"LookSAM k={K}: a step between (+ g_v mixed in)", LOOKSAM, lambda base, sam: base),
    (f"LookSAM k={K}, over a {K}-step cycle", LOOKSAM,
     lambda base, sam: (sam + (K - 1) * base) / K),
    ("SAM + EMA of the weights", ("ema.decay=0.999",), lambda base, sam: sam),
]


def med(v):
    return statistics.median(v) if v else float("nan")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def time_compile(a, model, sets, steps, log):
    """(base ms, SAM ms) of one compile: the median over its blocks of each
    block's median step."""
    path, batch, _ = MODELS[model]
    argv = [os.path.join(a.build_dir, "bench", "samc_bench"), "steps", path,
            "--threads", str(a.threads), "--steps", str(steps), "--blocks", "2", "--warmup", "3"]
    if batch:
        argv += ["--batch", str(batch)]
    for kv in sets:
        argv += ["--set", kv]
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"variants.py: {' '.join(argv)} failed ({r.returncode}):\n{r.stderr}")
    recs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    for rec in recs:
        rec.update(model=model, sets=list(sets))
    log.extend(recs)
    ms = {p: med([x["median_ms"] for x in recs if x.get("prog") == p]) for p in ("base", "sam")}
    return ms["base"], ms["sam"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    ap.add_argument("--quick", action="store_true", help="few steps, for checking the script")
    ap.add_argument("--out", help="markdown report (default BUILD_DIR/bench/variants.md)")
    a = ap.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)
    steps = {"medium": 4, "cnn": 2} if a.quick else {"medium": 15, "cnn": 6}
    compiles = list(dict.fromkeys(sets for _, sets, _ in CASES))
    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()
    log = []
    cost = {}  # (model, case name) -> [ms per repetition]
    for rep in range(a.reps):
        order = compiles if rep % 2 == 0 else compiles[::-1]
        for model in MODELS:
            times = {sets: time_compile(a, model, sets, steps[model], log) for sets in order}
            for name, sets, fn in CASES:
                cost.setdefault((model, name), []).append(fn(*times[sets]))
        print(f"repetition {rep + 1}/{a.reps} done", flush=True)
    load1 = os.getloadavg()

    L = [f"Date: {started.strftime('%Y-%m-%d %H:%M %Z')}  ",
         f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {load0[0]:.1f} at start, "
         f"{load1[0]:.1f} at end  ",
         f"Threads: {a.threads}, batch {BATCH}, {a.reps} interleaved repetitions; each time the "
         "median over 2 blocks of each block's median step", ""]
    L += ["Ratios are taken per repetition (both sides of one saw the same machine), then "
          "their median.", ""]
    for model, (_, _, label) in MODELS.items():
        base, sam = cost[model, CASES[0][0]], cost[model, CASES[1][0]]
        L += [f"{label}, batch {BATCH}:", "",
              "| case | ms/step: median (range over repetitions) | / base | / SAM |",
              "|---|---|---|---|"]
        for name, _, _ in CASES:
            v = cost[model, name]
            rb = med([x / y for x, y in zip(v, base)])
            rs = med([x / y for x, y in zip(v, sam)])
            L.append(f"| {name} | {med(v):.2f} ({min(v):.2f}-{max(v):.2f}) | "
                     f"{rb:.2f}x | {rs:.2f}x |")
        L.append("")
    report = "\n".join(L)
    out = a.out or os.path.join(a.build_dir, "bench", "variants.md")
    with open(out, "w") as f:
        f.write(report + "\n")
    with open(os.path.splitext(out)[0] + ".jsonl", "w") as f:
        for r in log:
            f.write(json.dumps(r) + "\n")
    print(report)
    print(f"(report written to {os.path.relpath(out, ROOT)})")


if __name__ == "__main__":
    main()
