"""gpu.py - the GPU benchmark, run by scripts/gpu-check.sh on a machine with
an NVIDIA GPU and PyTorch with CUDA, from the trainers scripts/gpu-kit.sh
built (no samc, LLVM or Lua needed there).

One interleaved run, each repetition in turn:
  - the device's copy bandwidth (bench/gpu_torch.py copy);
  - PyTorch's eager SAM optimizer part on a flat 64 M parameter
    (bench/gpu_torch.py optim);
  - samc's CUDA trainers: SAM and base (SAM every 10^9 steps) trainers of
    bench/models/mlp_small.lua, mlp_medium.lua, examples/fashion_cnn.lua and
    bench/models/flat_sam.lua, each for a fixed number of steps on
    Fashion-MNIST (data.limit_train), their speed the epoch record's
    samples per second;
  - PyTorch's eager SAM and base steps of the same networks and batches
    (bench/torch_sam.py --device cuda).
Reports the medians: samc/PyTorch SAM throughput (goal >= 2x), samc's SAM/base
step time, and the flat model's SAM step against the copy bandwidth (the
bytes an ideal fused SAM optimizer moves per step: read g; read w, g2, buf;
write w, buf; goal >= 85% for the optimizer part; the step also holds the
products, so this is a lower bound). Prints markdown and writes JSON lines.

  python3 bench/gpu.py --kit gpu-kit --out DIR [--reps N] [--quick]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FLAT_N = 784 * 81920  # bench/models/flat_sam.lua's weight
# name: (trainer, base trainer, PyTorch model, batch, training rows)
NETS = {
    "mlp_small": ("mlp_small_cuda", "mlp_small_base_cuda", "small", 128, 12800),
    "mlp_medium": ("mlp_medium_cuda", "mlp_medium_base_cuda", "medium", 128, 12800),
    "cnn": ("cnn_cuda", "cnn_base_cuda", "cnn", 64, 6400),
    "flat": ("flat_cuda", "flat_base_cuda", None, 1, 400),
}


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"gpu.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def json_lines(text):
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


def samc_trainer(kit, name, rows, data_sets, tmp):
    """samples/s of one epoch of `rows` training examples (the first epoch
    after a short warm-up run, so PTX loading and cuBLAS start-up are out)."""
    metrics = os.path.join(tmp, name + ".jsonl")
    if os.path.exists(metrics):
        os.remove(metrics)
    cmd = [os.path.join(kit, "bin", name), "--quiet", "--epochs", "1", "--metrics", metrics,
           "--set", f"data.limit_train={rows}"] + data_sets
    run(cmd)
    ep = [r for r in json_lines(open(metrics).read()) if r.get("kind") == "epoch"]
    return ep[-1]["samples_per_s"]


def torch_steps(model, batch, steps):
    out = run([sys.executable, os.path.join(HERE, "torch_sam.py"), "--model", model,
               "--device", "cuda", "--batch", str(batch), "--steps", str(steps),
               "--blocks", "2", "--warmup", "5"])
    recs = json_lines(out)
    ms = {p: min(r["median_ms"] for r in recs if r["prog"] == p) for p in ("base", "sam")}
    return ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kit", default="gpu-kit")
    ap.add_argument("--out", default=".")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.kit = os.path.abspath(a.kit)
    data = os.path.join(a.kit, "data")
    sets = ["--set", "data.limit_test=64"]
    for split, pre in (("train", "train"), ("test", "t10k")):
        sets += ["--set", f"data.{split}.x={data}/{pre}-images-idx3-ubyte.gz",
                 "--set", f"data.{split}.y={data}/{pre}-labels-idx1-ubyte.gz"]
    flat_sets = ["--set", f"data.train.x={data}/train-images-idx3-ubyte.gz"]
    log = []
    tmp = tempfile.mkdtemp(prefix="samc-gpu-bench-")
    reps = 1 if a.quick else a.reps
    for rep in range(reps):
        copy = json_lines(run([sys.executable, os.path.join(HERE, "gpu_torch.py"), "copy"]))[0]
        log.append(dict(copy, rep=rep))
        opt = json_lines(run([sys.executable, os.path.join(HERE, "gpu_torch.py"), "optim",
                              "--n", str(FLAT_N)]))[0]
        log.append(dict(opt, rep=rep))
        for net, (sam, base, tmodel, batch, rows) in NETS.items():
            if a.quick:
                rows = max(batch * 20, rows // 10)
            ds = flat_sets if net == "flat" else sets
            for prog, trainer in (("sam", sam), ("base", base)):
                sps = samc_trainer(a.kit, trainer, rows, ds, tmp)
                log.append({"fw": "samc", "net": net, "prog": prog, "rep": rep,
                            "ms": batch / sps * 1e3 if sps else None})
            if tmodel:
                ms = torch_steps(tmodel, batch, 10 if a.quick else 30)
                for prog in ("sam", "base"):
                    log.append({"fw": "torch", "net": net, "prog": prog, "rep": rep,
                                "ms": ms[prog]})
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "gpu-bench.jsonl"), "w") as f:
        for r in log:
            f.write(json.dumps(r) + "\n")
    report(log, a.out)


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else float("nan")


def report(log, out):
    copy = med([r["gb_per_s"] for r in log if r.get("cmd") == "copy"])
    dev = next((r["device"] for r in log if r.get("device")), "?")
    lines = [f"GPU benchmark on {dev}: copy bandwidth {copy:.0f} GB/s (read + write)", "",
             "| network | samc SAM ms | samc base ms | SAM/base | PyTorch SAM ms | "
             "PyTorch base ms | samc vs PyTorch (SAM) |", "|---|---|---|---|---|---|---|"]

    def ms(fw, net, prog):
        return med([r["ms"] for r in log if r.get("fw") == fw and r["net"] == net
                    and r["prog"] == prog])
    for net in NETS:
        s, b = ms("samc", net, "sam"), ms("samc", net, "base")
        ts, tb = ms("torch", net, "sam"), ms("torch", net, "base")
        lines.append(f"| {net} | {s:.3f} | {b:.3f} | {s / b:.2f} | {ts:.3f} | {tb:.3f} | "
                     f"{ts / s:.2f}x |")
    ideal = 4 * FLAT_N * 6
    flat = ms("samc", "flat", "sam")
    topt = med([r["best_ms"] for r in log if r.get("cmd") == "optim"])
    lines += ["", f"flat model ({FLAT_N / 1e6:.1f} M parameters): samc's whole SAM step "
              f"{flat:.3f} ms = {ideal / flat / 1e6 / copy * 100:.0f}% of the copy bandwidth "
              f"for the optimizer's ideal bytes (goal >= 85% for the optimizer part alone); "
              f"PyTorch's eager optimizer part alone {topt:.3f} ms = "
              f"{ideal / topt / 1e6 / copy * 100:.0f}%"]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(out, "gpu-bench.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
