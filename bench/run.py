"""run.py - samc against PyTorch, SAM against base, kernels against floors.

Runs everything in one run, interleaved: each repetition runs samc and
PyTorch on both models (alternating which goes first), plus the samc-only
measurements (optimizer part, GEMM floor), so that machine noise hits all
of them alike. Prints a markdown report and writes it, with the raw JSON
lines, next to samc_bench. bench/run.sh builds samc_bench and calls this;
see bench/README.md for what each number means.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"  # Debian's, the one that imports torch
BATCH = 128
MODELS = {"small": "bench/models/mlp_small.lua", "medium": "bench/models/mlp_medium.lua"}
LABEL = {"small": "MLP 784-256-10", "medium": "MLP 784-1024-1024-10"}
# PyTorch's OpenMP threads must not spin against OpenBLAS's: the two
# documented fixes, measured against each other at the start of the run.
TORCH_ENVS = {"OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
              "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"}}


class Runner:
    def __init__(self, args):
        self.a = args
        self.bench = os.path.join(args.build_dir, "bench", "samc_bench")
        self.log = []

    def _run(self, cmd, env_extra=None):
        env = dict(os.environ)
        env["OPENBLAS_NUM_THREADS"] = str(self.a.threads)
        env.update(env_extra or {})
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"run.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        recs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        self.log.extend(recs)
        return recs

    def samc(self, cmd, model=None, **opt):
        argv = [self.bench, cmd] + ([MODELS[model]] if model else [])
        opt.setdefault("threads", self.a.threads)
        for k, v in opt.items():
            argv += [f"--{k}", str(v)]
        recs = self._run(argv)
        for r in recs:
            r["fw"], r["model"] = "samc", model
        return recs

    def build_time(self, model):
        """Wall time of `samc build MODEL -o TRAINER` (the AOT path), or None
        when this samc has no build command."""
        samc = os.path.join(self.a.build_dir, "samc")
        out = os.path.join(self.a.build_dir, "bench", f"trainer_{model}")
        t0 = time.perf_counter()
        r = subprocess.run([samc, "build", MODELS[model], "-o", out, "--quiet"], cwd=ROOT,
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None
        return time.perf_counter() - t0

    def torch(self, model, env_name, steps, blocks):
        argv = [PYTHON, os.path.join(HERE, "torch_sam.py"), "--model", model,
                "--threads", str(self.a.threads), "--steps", str(steps),
                "--blocks", str(blocks)]
        recs = self._run(argv, TORCH_ENVS[env_name])
        for r in recs:
            r["fw"], r["model"], r["env"] = "torch", model, env_name
        return recs


def med(v):
    return statistics.median(v) if v else float("nan")


def spread(v):
    return f"{min(v):.2f}-{max(v):.2f}" if v else "-"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def calibrate(run, steps):
    """Both OpenMP settings for PyTorch, interleaved; the faster one wins
    (sum over models of the median SAM step)."""
    total = {k: [] for k in TORCH_ENVS}
    for _ in range(2):
        for name in TORCH_ENVS:
            t = 0.0
            for model in MODELS:
                recs = run.torch(model, name, steps[model], 1)
                t += med([r["median_ms"] for r in recs if r["prog"] == "sam"])
            total[name].append(t)
    best = min(total, key=lambda k: med(total[k]))
    return best, {k: med(v) for k, v in total.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    ap.add_argument("--quick", action="store_true", help="few steps, for checking the script")
    ap.add_argument("--out", help="markdown report (default BUILD_DIR/bench/results.md)")
    a = ap.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)
    run = Runner(a)
    steps = {"small": 10, "medium": 4} if a.quick else {"small": 60, "medium": 15}
    started = datetime.datetime.now().astimezone()
    load0 = os.getloadavg()

    triad = run.samc("triad", steps=10, blocks=3, warmup=2)
    env_name, env_times = calibrate(run, steps)
    print(f"PyTorch OpenMP setting: {env_name} (SAM step sums: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in env_times.items()) + ")", flush=True)
    for rep in range(a.reps):
        order = ("samc", "torch") if rep % 2 == 0 else ("torch", "samc")
        for model in MODELS:
            for fw in order:
                if fw == "samc":
                    run.samc("steps", model, steps=steps[model], blocks=2, warmup=5)
                else:
                    run.torch(model, env_name, steps[model], 2)
            run.samc("opt", model, steps=4 * steps[model], blocks=1, warmup=5)
        print(f"repetition {rep + 1}/{a.reps} done", flush=True)
    builds = {m_: [run.build_time(m_) for _ in range(3)] for m_ in MODELS}
    run.log.extend({"cmd": "build", "model": m_, "s": v} for m_, vs in builds.items()
                   for v in vs if v is not None)
    profiles = []
    for model in MODELS:
        for prog in ("sam", "base"):
            profiles += run.samc("profile", model, prog=prog, steps=steps[model], blocks=2, warmup=3)
    triad += run.samc("triad", steps=10, blocks=3, warmup=2)
    load1 = os.getloadavg()

    report = summarize(run.log, triad, env_name, env_times, a, started, load0, load1)
    out = a.out or os.path.join(a.build_dir, "bench", "results.md")
    with open(out, "w") as f:
        f.write(report)
    with open(os.path.splitext(out)[0] + ".jsonl", "w") as f:
        for r in run.log:
            f.write(json.dumps(r) + "\n")
    print(report)
    print(f"(report written to {os.path.relpath(out, ROOT)})")


def summarize(log, triad, env_name, env_times, a, started, load0, load1):
    def blocks(fw, model, prog, key="median_ms"):
        return [r[key] for r in log if r.get("cmd") == "steps" and r["fw"] == fw
                and r["model"] == model and r["prog"] == prog and key in r]

    bw = max(r["best_gbs"] for r in triad)  # STREAM reports the best
    bw_med = med([r["median_gbs"] for r in triad])
    L = []
    L.append(f"Date: {started.strftime('%Y-%m-%d %H:%M %Z')}  ")
    L.append(f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average "
             f"{load0[0]:.1f} at start, {load1[0]:.1f} at end  ")
    L.append(f"Threads: {a.threads} (samc kernels + OpenBLAS; PyTorch torch.set_num_threads and "
             f"OpenBLAS), batch {BATCH}, {a.reps} interleaved repetitions  ")
    L.append(f"PyTorch OpenMP setting: {env_name} (measured faster: SAM step sums "
             + ", ".join(f"{k} {v:.2f} ms" for k, v in env_times.items()) + ")  ")
    L.append(f"Triad bandwidth ({a.threads} threads, 3 x 64 MiB): best {bw:.1f} GB/s, "
             f"median {bw_med:.1f} GB/s")
    L.append("")
    L.append("Step times: the median over blocks of each block's median step, then the best "
             "block (other processes only ever add time, so on a loaded machine the best block is "
             "the closer estimate of the uncontended step), then the range of block medians.")
    L.append("")
    L.append("| model | optimizer | samc ms/step: median, best (range) | PyTorch ms/step: median, best "
             "(range) | samc samples/s | PyTorch samples/s | samc/PyTorch: median, best |")
    L.append("|---|---|---|---|---|---|---|")
    t, tb = {}, {}
    for model in MODELS:
        for prog in ("base", "sam"):
            s, p = blocks("samc", model, prog), blocks("torch", model, prog)
            t[model, prog] = (med(s), med(p))
            tb[model, prog] = (min(s), min(p))
            L.append(f"| {LABEL[model]} | {'SAM+SGD' if prog == 'sam' else 'SGD'} | "
                     f"{med(s):.2f}, {min(s):.2f} ({spread(s)}) | "
                     f"{med(p):.2f}, {min(p):.2f} ({spread(p)}) | "
                     f"{BATCH * 1e3 / med(s):.0f} | {BATCH * 1e3 / med(p):.0f} | "
                     f"{med(p) / med(s):.2f}x, {min(p) / min(s):.2f}x |")
    L.append("")
    L.append("| model | samc SAM/base: median, best | PyTorch SAM/base: median, best |")
    L.append("|---|---|---|")
    for model in MODELS:
        (sb, pb), (ss, ps) = t[model, "base"], t[model, "sam"]
        (bsb, bpb), (bss, bps) = tb[model, "base"], tb[model, "sam"]
        L.append(f"| {LABEL[model]} | {ss / sb:.2f}, {bss / bsb:.2f} | {ps / pb:.2f}, {bps / bpb:.2f} |")
    L.append("")
    L.append("Optimizer part (SAM norm + perturbation + SGD momentum update), per step:")
    L.append("")
    L.append("| model | params | bytes moved | bandwidth floor | samc (range) | samc/floor "
             "| PyTorch first_step+second_step |")
    L.append("|---|---|---|---|---|---|---|")
    opt = {}
    for model in MODELS:
        o = [r for r in log if r.get("cmd") == "opt" and r["model"] == model]
        ms = [r["median_ms"] for r in o]
        floor = o[0]["bytes"] / (bw * 1e9) * 1e3
        opt[model] = (med(ms), floor, min(ms))
        L.append(f"| {LABEL[model]} | {o[0]['params']} | {o[0]['bytes'] / 1e6:.1f} MB | "
                 f"{floor:.3f} ms | {med(ms):.3f} ms ({spread(ms)}) | {med(ms) / floor:.2f}x | "
                 f"{med(blocks('torch', model, 'sam', 'optim_ms')):.3f} ms |")
    L.append("")
    # samc_bench steps times the SAM step's GEMMs alone in a third block
    # after each base and SAM block, so each SAM block has its own floor
    gfl = {m_: blocks("samc", m_, "sam_gemm") for m_ in MODELS}
    gsam, gsam_best = med(gfl["medium"]), min(gfl["medium"])
    ngemm = next(r["gemms"] for r in log
                 if r.get("prog") == "sam_gemm" and r["model"] == "medium")
    pair = [a_ / b_ for a_, b_ in zip(blocks("samc", "medium", "sam"), gfl["medium"])]
    L.append(f"GEMM floor, {LABEL['medium']}: the SAM step's {ngemm} GEMMs alone through "
             f"cblas_sgemm (same shapes and transposes, {a.threads} threads; the faster of "
             f"OpenBLAS's own threads and the step's split of each GEMM over its pool), timed in a block "
             f"right after each SAM block: median {gsam:.2f} ms, best {gsam_best:.2f} ms (range "
             f"{spread(gfl['medium'])}). samc's SAM step / its floor: block by block, median "
             f"{med(pair):.2f}x (range {spread(pair)}); medians {t['medium', 'sam'][0] / gsam:.2f}x; "
             f"best blocks {tb['medium', 'sam'][0] / gsam_best:.2f}x. "
             f"(Small model: floor {med(gfl['small']):.2f} ms, step/floor "
             f"{t['small', 'sam'][0] / med(gfl['small']):.2f}x.)")
    L.append("")
    comp = [r for r in log if r.get("cmd") == "compile"]
    L.append("Compile time (JIT path: load the model, build the program, fuse, plan, lower, "
             "LLVM O3, ORC JIT), median over runs:")
    L.append("")
    L.append("| model | load | base exec | SAM exec | kernels base/SAM |")
    L.append("|---|---|---|---|---|")
    for model in MODELS:
        c = [r for r in comp if r["model"] == model]
        L.append(f"| {LABEL[model]} | {med([r['load_s'] for r in c]) * 1e3:.0f} ms | "
                 f"{med([r['base_s'] for r in c]) * 1e3:.0f} ms | "
                 f"{med([r['sam_s'] for r in c]) * 1e3:.0f} ms | "
                 f"{c[0]['base_kernels']}/{c[0]['sam_kernels']} |")
    L.append("")
    bl = [r for r in log if r.get("cmd") == "build"]
    if bl:
        L.append("`samc build MODEL -o TRAINER` (AOT: codegen + object file + link with the "
                 "runtime), wall time, median of 3: "
                 + "; ".join(f"{LABEL[m_]} {med([r['s'] for r in bl if r['model'] == m_]):.2f} s"
                             for m_ in MODELS) + ".")
    else:
        L.append("`samc build`: not available in this build of samc.")
    L.append("")
    L.append("Where samc's step goes (samc_bench profile: per-kernel clock, summed by group):")
    L.append("")
    L.append("| model | step | total | GEMM | conv (oneDNN) | fwd/bwd loop kernels | optimizer kernels "
             "| commits |")
    L.append("|---|---|---|---|---|---|---|---|")
    for r in log:
        if r.get("cmd") == "profile":
            L.append(f"| {LABEL[r['model']]} | {r['prog']} | {r['total_us'] / 1e3:.2f} ms | "
                     f"{r['gemm_us'] / 1e3:.2f} ms | {r.get('conv_us', 0) / 1e3:.2f} ms | "
                     f"{r['fwdbwd_us'] / 1e3:.2f} ms | "
                     f"{r['optim_us'] / 1e3:.2f} ms | {r['commit_us'] / 1e3:.2f} ms |")
    L.append("")
    L.append("Goals (issue 5):")
    L.append("")
    def goals(t, gemm, opt_i):
        (ss, ps), (ms_, mp) = t["small", "sam"], t["medium", "sam"]
        return [
            ("SAM throughput >= 1.8x PyTorch, small", ps / ss, 1.8, True),
            ("SAM throughput >= 1.5x PyTorch, medium", mp / ms_, 1.5, True),
            ("medium SAM step <= 1.2x its GEMM floor", ms_ / gemm, 1.2, False),
            ("SAM/base step time <= 2.1, small", ss / t["small", "base"][0], 2.1, False),
            ("SAM/base step time <= 2.1, medium", ms_ / t["medium", "base"][0], 2.1, False),
            ("optimizer part <= 1.5x bandwidth floor, medium",
             opt["medium"][opt_i] / opt["medium"][1], 1.5, False),
            ("optimizer part <= 1.5x bandwidth floor, small",
             opt["small"][opt_i] / opt["small"][1], 1.5, False),
        ]

    # the median column judges the floor block by block (each SAM block
    # against the GEMM block right after it)
    gsam = t["medium", "sam"][0] / med(pair)
    L.append("| goal | median blocks | met | best blocks | met |")
    L.append("|---|---|---|---|---|")
    for (name, v, lim, hi), (_, vb, _, _) in zip(goals(t, gsam, 0), goals(tb, gsam_best, 2)):
        ok = (lambda x: x >= lim) if hi else (lambda x: x <= lim)
        L.append(f"| {name} | {v:.2f} | {'yes' if ok(v) else 'no'} | {vb:.2f} | "
                 f"{'yes' if ok(vb) else 'no'} |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
