#!/usr/bin/python3
"""bf16.py - precision = "bf16" against f32: the base and SAM step times of
the same model compiled both ways (`samc_bench steps MODEL --set precision=P`),
in alternating runs so that machine noise hits both alike, and whether the
CPU has bf16 instructions (avx512_bf16, amx_bf16 in /proc/cpuinfo).

samc's bf16 steps round values to bf16 in f32 registers (integer bit
operations that vectorise on any x86-64) and run their GEMMs and
convolutions as f32 calls on the rounded values, so they use no bf16
instruction whatever the CPU has: the ratio measures what the rounding
costs, not a bf16 GEMM's speed.

  bench/run.sh bf16 [--reps N] [--models A.lua,B.lua] [--steps N] [--blocks N]
"""

import argparse
import json
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def run(bench, model, precision, args):
    cmd = [bench, "steps", model, "--set", f"precision={precision}",
           "--threads", str(args.threads), "--steps", str(args.steps),
           "--blocks", str(args.blocks), "--warmup", "3"]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    ms = {"base": [], "sam": []}
    for line in out.splitlines():
        r = json.loads(line)
        if r.get("cmd") == "steps" and r["prog"] in ms:
            ms[r["prog"]].append(r["median_ms"])
    return ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", default="bench/models/mlp_medium.lua,examples/fashion_cnn.lua")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0)
    args = ap.parse_args()
    bench = os.path.join(args.build_dir, "bench", "samc_bench")
    flags = cpu_flags()
    have = [f for f in ("avx512_bf16", "amx_bf16", "avx512bw") if f in flags]
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ")
    print(f"CPU flags: {', '.join(have) or 'none of avx512_bf16, amx_bf16, avx512bw'} "
          f"(bf16 instructions: {'yes' if 'avx512_bf16' in flags or 'amx_bf16' in flags else 'no'}; "
          "samc's bf16 steps use none)  ")
    print(f"Load average at start: {os.getloadavg()[0]:.1f}; {args.threads} threads; "
          f"{args.reps} alternating repetitions of {args.blocks} blocks of {args.steps} steps\n")
    print("| model | step | f32 ms: median (range) | bf16 ms: median (range) | bf16/f32 time |")
    print("|---|---|---|---|---|")
    for model in args.models.split(","):
        path = os.path.join(ROOT, model)
        ms = {"f32": {"base": [], "sam": []}, "bf16": {"base": [], "sam": []}}
        for _ in range(args.reps):
            for p in ("f32", "bf16"):
                r = run(bench, path, p, args)
                for k in r:
                    ms[p][k] += r[k]
        for step in ("base", "sam"):
            a, b = ms["f32"][step], ms["bf16"][step]
            ma, mb = statistics.median(a), statistics.median(b)
            print(f"| {model} | {step} | {ma:.1f} ({min(a):.1f}-{max(a):.1f}) | "
                  f"{mb:.1f} ({min(b):.1f}-{max(b):.1f}) | {mb / ma:.2f}x |")
    print(f"\nLoad average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
