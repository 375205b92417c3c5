"""cnn.py - the convolutional benchmark: examples/fashion_cnn.lua's network at
batch 128 (the example trains at 64),
samc against PyTorch 1.13's eager SAM (bench/torch_sam.py --model cnn), and
samc's convolutions against the same oneDNN primitives timed alone.

One run, interleaved: each repetition times samc's base and SAM steps
(samc_bench steps), PyTorch's (alternating which goes first, under both
OpenMP waiting settings, the faster counted), oneDNN's primitives alone
(samc_bench conv: one training pass's convolutions) and the per-kernel
profile of samc's SAM step (samc_bench profile: the time of its RT_K_CONV
calls). Prints a markdown report with the goals of the CNN issue and
writes it, with the raw JSON lines, next to samc_bench.

  bench/run.sh cnn [--reps N] [--threads N] [--quick] [--out FILE]
"""

import argparse
import datetime
import json
import os
import subprocess
import sys

from run import TORCH_ENVS, cpu_model, med  # bench/run.py: the same settings and helpers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"  # Debian's, the one that imports torch
MODEL = "examples/fashion_cnn.lua"  # run at batch 128 (--batch)
BATCH = 128


def spread(v):  # one decimal: CNN steps are tens of milliseconds
    return f"{min(v):.1f}-{max(v):.1f}" if v else "-"


class Runner:
    def __init__(self, a):
        self.a = a
        self.bench = os.path.join(a.build_dir, "bench", "samc_bench")
        self.log = []

    def run(self, cmd, env_extra=None, tag=None):
        env = dict(os.environ)
        env["OPENBLAS_NUM_THREADS"] = str(self.a.threads)
        env.update(env_extra or {})
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"cnn.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        recs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        for rec in recs:
            rec.update(tag or {})
        self.log.extend(recs)
        return recs

    def samc(self, cmd, *args, **opt):
        argv = [self.bench, cmd] + list(args)
        opt.setdefault("threads", self.a.threads)
        for k, v in opt.items():
            argv += [f"--{k}", str(v)]
        return self.run(argv, tag={"fw": "samc"})

    def torch(self, env_name, steps):
        argv = [PYTHON, os.path.join(HERE, "torch_sam.py"), "--model", "cnn", "--threads",
                str(self.a.threads), "--steps", str(steps), "--blocks", "2", "--warmup", "3"]
        return self.run(argv, TORCH_ENVS[env_name], tag={"fw": "torch", "env": env_name})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    ap.add_argument("--quick", action="store_true", help="few steps, for checking the script")
    ap.add_argument("--out", help="markdown report (default BUILD_DIR/bench/cnn.md)")
    a = ap.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)
    r = Runner(a)
    steps = 3 if a.quick else 10
    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()
    for rep in range(a.reps):
        order = ("samc", "torch") if rep % 2 == 0 else ("torch", "samc")
        for fw in order:
            if fw == "samc":
                r.samc("steps", MODEL, steps=steps, blocks=2, warmup=3, batch=BATCH)
            else:
                for env_name in TORCH_ENVS:
                    r.torch(env_name, steps)
        r.samc("conv", steps=steps, blocks=2, warmup=2)
        r.samc("profile", MODEL, prog="sam", steps=steps, blocks=1, warmup=2, batch=BATCH)
        r.samc("profile", MODEL, prog="base", steps=steps, blocks=1, warmup=2, batch=BATCH)
        print(f"repetition {rep + 1}/{a.reps} done", flush=True)
    load1 = os.getloadavg()
    report = summarize(r.log, a, started, load0, load1)
    out = a.out or os.path.join(a.build_dir, "bench", "cnn.md")
    with open(out, "w") as f:
        f.write(report)
    with open(os.path.splitext(out)[0] + ".jsonl", "w") as f:
        for rec in r.log:
            f.write(json.dumps(rec) + "\n")
    print(report)
    print(f"(report written to {os.path.relpath(out, ROOT)})")


def summarize(log, a, started, load0, load1):
    def steps(fw, prog, env=None):
        return [x["median_ms"] for x in log if x.get("cmd") == "steps" and x["fw"] == fw
                and x["prog"] == prog and (env is None or x.get("env") == env)]

    # PyTorch: the faster OpenMP setting over the whole run
    env = min(TORCH_ENVS, key=lambda e: med(steps("torch", "sam", e)))
    t = {(fw, p): steps(fw, p, env if fw == "torch" else None)
         for fw in ("samc", "torch") for p in ("base", "sam")}
    alone = [x["median_ms"] for x in log if x.get("cmd") == "conv_pass"]
    prof = {p: [x for x in log if x.get("cmd") == "profile" and x["prog"] == p]
            for p in ("sam", "base")}
    conv_in_step = {p: [x["conv_us"] / 1e3 for x in prof[p]] for p in prof}
    isa = next((x["isa"] for x in log if x.get("cmd") == "conv_info"), "?")
    L = [f"Date: {started.strftime('%Y-%m-%d %H:%M %Z')}  ",
         f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {load0[0]:.1f} at "
         f"start, {load1[0]:.1f} at end  ",
         f"Model: {MODEL} (conv 1->32, 32->64, 64->128 3x3 with BatchNorm, ReLU, 2x2 max "
         f"pools; linear 1152->256->10), batch {BATCH}, SGD momentum 0.9, weight decay 5e-4, SAM "
         f"rho 0.05; {a.threads} threads; {a.reps} interleaved repetitions  ",
         f"oneDNN ISA: {isa}; PyTorch OpenMP setting: {env} (the faster of "
         + ", ".join(TORCH_ENVS) + ")", ""]
    L.append("| step | samc ms: median (range) | PyTorch ms: median (range) | samc samples/s | "
             "PyTorch samples/s | samc/PyTorch throughput |")
    L.append("|---|---|---|---|---|---|")
    for p in ("base", "sam"):
        s, q = t["samc", p], t["torch", p]
        L.append(f"| {'SGD' if p == 'base' else 'SAM+SGD'} | {med(s):.1f} ({spread(s)}) | "
                 f"{med(q):.1f} ({spread(q)}) | {BATCH * 1e3 / med(s):.0f} | "
                 f"{BATCH * 1e3 / med(q):.0f} | {med(q) / med(s):.2f}x |")
    L.append("")
    L.append("Convolutions: oneDNN's primitives alone (samc_bench conv, one pass: conv1 forward "
             "and weight gradient, conv2's and conv3's forward, input and weight gradients), against the "
             "RT_K_CONV calls inside samc's steps (samc_bench profile; a SAM step makes two "
             "passes):")
    L.append("")
    L.append("| | ms per pass: median (range) |")
    L.append("|---|---|")
    L.append(f"| oneDNN alone | {med(alone):.1f} ({spread(alone)}) |")
    L.append(f"| in samc's base step | {med(conv_in_step['base']):.1f} "
             f"({spread(conv_in_step['base'])}) |")
    sam_pass = [v / 2 for v in conv_in_step["sam"]]
    L.append(f"| in samc's SAM step, per pass | {med(sam_pass):.1f} ({spread(sam_pass)}) |")
    L.append("")
    L.append("Where samc's step goes (per-kernel clock, summed by group, median of repetitions):")
    L.append("")
    L.append("| step | total | conv (oneDNN) | GEMM | fwd/bwd loop kernels | optimizer kernels |")
    L.append("|---|---|---|---|---|---|")
    for p in ("base", "sam"):
        x = prof[p]
        L.append(f"| {p} | {med([y['total_us'] for y in x]) / 1e3:.1f} ms | "
                 f"{med([y['conv_us'] for y in x]) / 1e3:.1f} ms | "
                 f"{med([y['gemm_us'] for y in x]) / 1e3:.1f} ms | "
                 f"{med([y['fwdbwd_us'] for y in x]) / 1e3:.1f} ms | "
                 f"{med([y['optim_us'] for y in x]) / 1e3:.1f} ms |")
    L.append("")
    thr = med(t["torch", "sam"]) / med(t["samc", "sam"])
    conv_ratio = med(sam_pass) / med(alone)
    sam_base = med(t["samc", "sam"]) / med(t["samc", "base"])
    L.append("Goals:")
    L.append("")
    L.append("| goal | measured | met |")
    L.append("|---|---|---|")
    for name, v, ok in (("samc's SAM throughput >= 1.5x PyTorch's", thr, thr >= 1.5),
                        ("samc's convolutions within 1.15x of oneDNN alone", conv_ratio,
                         conv_ratio <= 1.15),
                        ("samc SAM/base step time <= 2.05", sam_base, sam_base <= 2.05)):
        L.append(f"| {name} | {v:.2f} | {'yes' if ok else 'no'} |")
    return "\n".join(L) + "\n"



if __name__ == "__main__":
    main()
