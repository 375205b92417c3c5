#!/usr/bin/python3
"""bf16.py - precision = "bf16" against f32: the base and SAM step times of
the same model compiled both ways (`samc_bench steps MODEL --set precision=P`),
in alternating runs so that machine noise hits both alike, and whether the
CPU has bf16 instructions (avx512_bf16, amx_bf16 in /proc/cpuinfo).

samc's bf16 steps round values to bf16 in f32 registers (integer bit
operations that vectorise on any x86-64); their GEMMs and convolutions are
flagged bf16 and, on a CPU with AVX-512 BF16 or AMX, run as oneDNN's bf16
matmul and convolution. On such a CPU the bf16 program is also timed with
SAMC_CPU_MASK=avx512bf16,amx-bf16, which keeps those calls f32 (what a CPU
without the instructions runs): the column "bf16, f32 calls".

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


def run(bench, model, precision, args, mask=None):
    env = dict(os.environ)
    env.pop("SAMC_CPU_MASK", None)
    if mask:
        env["SAMC_CPU_MASK"] = mask
    cmd = [bench, "steps", model, "--set", f"precision={precision}",
           "--threads", str(args.threads), "--steps", str(args.steps),
           "--blocks", str(args.blocks), "--warmup", "3"]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
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
    yes = "avx512_bf16" in flags or "amx_bf16" in flags
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ")
    print(f"CPU flags: {', '.join(have) or 'none of avx512_bf16, amx_bf16, avx512bw'} "
          f"(bf16 instructions: "
          f"{'yes: bf16 GEMMs and convolutions' if yes else 'no: f32 calls'})  ")
    print(f"Load average at start: {os.getloadavg()[0]:.1f}; {args.threads} threads; "
          f"{args.reps} alternating repetitions of {args.blocks} blocks of {args.steps} steps\n")
    # (name, precision, SAMC_CPU_MASK)
    runs = [("f32", "f32", None)]
    if yes:
        runs.append(("bf16m", "bf16", "avx512bf16,amx-bf16"))
    runs.append(("bf16", "bf16", None))
    head = "| model | step | f32 ms: median (range) |"
    if yes:
        head += " bf16, f32 calls ms | bf16/f32 (f32 calls) |"
    head += " bf16 ms: median (range) | bf16/f32 time |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for model in args.models.split(","):
        path = os.path.join(ROOT, model)
        ms = {name: {"base": [], "sam": []} for name, _, _ in runs}
        for _ in range(args.reps):
            for name, p, mask in runs:
                r = run(bench, path, p, args, mask)
                for k in r:
                    ms[name][k] += r[k]
        for step in ("base", "sam"):
            a = ms["f32"][step]
            ma = statistics.median(a)
            row = f"| {model} | {step} | {ma:.1f} ({min(a):.1f}-{max(a):.1f}) |"
            for name in [n for n, _, _ in runs if n != "f32"]:
                b = ms[name][step]
                mb = statistics.median(b)
                row += f" {mb:.1f} ({min(b):.1f}-{max(b):.1f}) | {mb / ma:.2f}x |"
            print(row)
    print(f"\nLoad average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
