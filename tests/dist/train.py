#!/usr/bin/python3
"""train.py - `samc model.lua` on 2 ranks under mpirun.

examples/fashion_mlp.lua in f64 on a subset of Fashion-MNIST, SAM with
optimizer.sam.sync = true (rank-independent mathematics), 2 epochs:

  A   2 ranks, 2 epochs                       rank 0 alone prints and writes
  B1  2 ranks stopped after epoch 1 (--stop-after 1)
  B2  2 ranks resumed from B1's checkpoint    = A bit for bit (tensors, metrics)
  C   1 process resumed from B1's checkpoint  = A within TOL (the same step on
                                               the global batch, other sums)
  I   2 ranks, SIGTERM to rank 1 alone: both stop after the same step, rank 0
      writes the checkpoint of that step and says how to resume
  K   2 ranks, a checkpoint every 2 steps, rank 1 SIGKILLed mid-run: rank 0
      says what happened (samc: rank 0: ...) and exits 1; the last checkpoint
      is whole (samc export reads and checks it)
  T   `samc build --ranks 2 --cpu native`: the trainer on 2 ranks = A bit for
      bit; started on 3 it refuses, with the rebuild command
  E   errors: 3 ranks for a batch of 128 (rank 0 says so once, exit 1), and
      ranks whose programs differ (another model file, --dtype f32 on one)

  SAMC_MPIRUN="mpirun --allow-run-as-root --oversubscribe" \\
    /usr/bin/python3 tests/dist/train.py --samc build/samc

Standard library only; exit 77 without SAMC_MPIRUN.
"""

import argparse
import json
import math
import os
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e_util as u  # noqa: E402

MODEL = os.path.join(HERE, "..", "..", "examples", "fashion_mlp.lua")
TIMING = {"samples_per_s", "seconds", "eta_s"}
# f64 over 2 epochs of 16 steps, the batch's sums in another order
TOL = 1e-9


def metrics(path):
    with open(path) as f:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING}
                for line in f if line.strip()]


def f64s(raw):
    return struct.unpack(f"<{len(raw) // 8}d", raw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    args = ap.parse_args()
    launcher = os.environ.get("SAMC_MPIRUN")
    if not launcher:
        print("SKIP: SAMC_MPIRUN is not set (tests/dist/tests.cmake sets it)", file=sys.stderr)
        return 77
    samc = os.path.abspath(args.samc)
    mpi = shlex.split(launcher)
    F = u.Failures()
    common = [MODEL, "--dtype", "f64", "--threads", "1", "--epochs", "2", "--log-every", "4",
              "--set", "data.limit_train=2048", "--set", "data.limit_test=512",
              "--set", "optimizer.sam.sync=true"]

    def ranks(n, extra, timeout=300):
        r = subprocess.run(mpi + ["-np", str(n), samc] + common + extra, capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    with tempfile.TemporaryDirectory() as d:
        p = lambda *a: os.path.join(d, *a)  # noqa: E731
        # A: rank 0 alone prints and writes
        r = ranks(2, ["--checkpoint-dir", p("A"), "--metrics", p("A.jsonl")])
        if not F.expect_success("2 ranks, 2 epochs", r):
            return F.status("dist train")
        F.check(r[1].count("test accuracy:") == 1 and r[1].count("epoch 2/2:") == 1,
                "one summary and one line per epoch (rank 0 prints)", r[1])
        F.check(sorted(os.listdir(p("A"))) == ["last.safetensors"], "one checkpoint",
                repr(os.listdir(p("A"))))
        # B: stopped after epoch 1, resumed on 2 ranks
        r = ranks(2, ["--stop-after", "1", "--checkpoint-dir", p("B"), "--metrics", p("B1.jsonl")])
        F.expect_success("2 ranks stopped after epoch 1", r)
        mid = p("mid.safetensors")
        with open(p("B", "last.safetensors"), "rb") as f, open(mid, "wb") as g:
            g.write(f.read())
        r = ranks(2, ["--resume", mid, "--checkpoint-dir", p("B"), "--metrics", p("B2.jsonl")])
        F.expect_success("2 ranks resumed for epoch 2", r)
        a, ma = u.read_st(p("A", "last.safetensors"))
        b, mb = u.read_st(p("B", "last.safetensors"))
        m0, _ = u.read_st(mid)
        F.check(any(a[k] != m0[k] for k in a), "epoch 2 changed the weights (not vacuous)")
        F.check(sorted(a) == sorted(b), "the same tensors", f"{sorted(a)} vs {sorted(b)}")
        for k in sorted(set(a) & set(b)):
            F.check(a[k] == b[k], f"resumed on 2 ranks: {k} bit-identical")
        F.check(ma.get("step") == mb.get("step") == "32", "both at step 32",
                f"{ma.get('step')} {mb.get('step')}")
        want = [x for x in metrics(p("A.jsonl")) if x.get("epoch") == 2]
        F.check(len(want) > 1 and want == [x for x in metrics(p("B2.jsonl"))
                                           if x.get("epoch") == 2],
                "epoch 2's metrics lines identical (reduced over the ranks)")
        # C: the 2 ranks' checkpoint resumed in one process
        r = u.run_samc(samc, common + ["--resume", mid, "--checkpoint-dir", p("C"), "--quiet",
                                       "--metrics", p("C.jsonl")])
        F.expect_success("1 process resumed from the 2 ranks' checkpoint", r)
        if r[0] == 0:
            c, _ = u.read_st(p("C", "last.safetensors"))
            worst = 0.0
            for k in a:
                x, y = f64s(c[k][2]), f64s(a[k][2])
                n = math.sqrt(sum(v * v for v in y))
                e = math.sqrt(sum((v - w) ** 2 for v, w in zip(x, y)))
                worst = max(worst, e / n if n else e)
            F.check(worst <= TOL, f"resumed in 1 process: within {TOL:g} of 2 ranks "
                    f"(worst relative error {worst:.2e})")
            # evaluation sharded over 2 ranks and summed = one process's
            ea = [x for x in metrics(p("A.jsonl")) if x.get("kind") == "epoch"][-1]
            ec = [x for x in metrics(p("C.jsonl")) if x.get("kind") == "epoch"][-1]
            F.check(ea["test_accuracy"] == ec["test_accuracy"] and
                    abs(ea["test_loss"] - ec["test_loss"]) <= TOL * abs(ec["test_loss"]),
                    "the test metrics of 2 ranks (sharded) = one process's",
                    f"{ea} vs {ec}")
        # T: a trainer built for 2 ranks
        tr = p("trainer")
        opts = [x for x in common if x not in ("--threads", "1", "--epochs", "2", "--log-every",
                                               "4")]
        r = u.run_samc(samc, ["build"] + opts + ["--ranks", "2", "--cpu", "native", "-o", tr,
                                                 "--quiet"])
        if F.expect_success("samc build --ranks 2", r):
            run = subprocess.run(mpi + ["-np", "2", tr, "--epochs", "2", "--threads", "1",
                                        "--quiet", "--checkpoint-dir", p("T")],
                                 capture_output=True, text=True, timeout=300)
            F.expect_success("the trainer on 2 ranks", (run.returncode, run.stdout, run.stderr))
            if run.returncode == 0:
                t, _ = u.read_st(p("T", "last.safetensors"))
                F.check(sorted(t) == sorted(a) and all(t[k] == a[k] for k in a),
                        "the trainer's checkpoint = samc's on 2 ranks, bit for bit")
            run = subprocess.run(mpi + ["-np", "3", tr, "--epochs", "1"], capture_output=True,
                                 text=True, timeout=120)
            F.check(run.returncode != 0 and "built for 2 ranks, started on 3: rebuild it with "
                    "`samc build" in run.stderr and "--ranks 3`" in run.stderr,
                    "the trainer on 3 ranks: refused with the rebuild command", run.stderr)
        # I, K: rank 1 told to stop, rank 1 killed
        kill_run(F, mpi, samc, common, d, signal.SIGTERM)
        kill_run(F, mpi, samc, common, d, signal.SIGKILL)
        # E: errors
        r = ranks(3, ["--set", "batch_size=128"], timeout=120)
        msg = "batch_size = 128 cannot be split over 3 ranks"
        F.check(r[0] == 1 and r[2].count(msg) == 1, "3 ranks for 128: said once, exit 1",
                f"exit {r[0]}: {r[2]}")
        other = p("other.lua")  # another hidden width: another program
        with open(MODEL) as f, open(other, "w") as g:
            g.write(f.read().replace("linear(x, 256", "linear(x, 128"))
        for what, extra, model in (("another model file", [], other),
                                   ("--dtype f32 on rank 1", ["--dtype", "f32"], MODEL)):
            cmd = mpi + ["-np", "1", samc] + common + [":", "-np", "1", samc, model] + \
                common[1:] + extra
            q = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            F.check(q.returncode == 1 and "samc: rank 1: comm: rank 1 disagrees with rank 0 on "
                    "the program" in q.stderr, f"{what}: refused", f"exit {q.returncode}: "
                    f"{q.stderr}")
    return F.status("dist train")


def kill_run(F, mpi, samc, common, d, sig):
    """Rank 1 gets sig while the ranks train. SIGTERM: every rank stops
    after the same step, with its checkpoint; SIGKILL: rank 0 must say so
    and the last checkpoint must be whole."""
    ck = os.path.join(d, "K" if sig == signal.SIGKILL else "I")
    # each rank leaves its pid; exec keeps it
    wrap = 'echo $$ > "$0.$OMPI_COMM_WORLD_RANK"; exec "$@"'
    cmd = mpi + ["-np", "2", "sh", "-c", wrap, os.path.join(d, "pid"), samc] + common + \
        ["--epochs", "200", "--checkpoint-dir", ck, "--set", "checkpoint.every_steps=2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = os.path.join(ck, "last.safetensors")
    deadline = time.time() + u.time_limit(120)
    pid1 = os.path.join(d, "pid.1")
    if os.path.exists(pid1):
        os.remove(pid1)
    while time.time() < deadline and not (os.path.exists(last) and os.path.exists(pid1)):
        time.sleep(0.05)
    if not os.path.exists(last):
        proc.kill()
        F.check(False, "the run wrote a checkpoint to kill it after")
        return
    time.sleep(0.3)  # a few steps on
    with open(pid1) as f:
        os.kill(int(f.read()), sig)
    try:
        out, err = proc.communicate(timeout=u.time_limit(60))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        F.check(False, "mpirun ended after the kill", err)
        return
    if sig == signal.SIGTERM:
        said = [line for line in out.splitlines() if line.startswith("interrupted by SIGTERM")]
        _, meta = u.read_st(last)
        step = said[0].split()[5] if said else "?"
        F.check(proc.returncode == 143 and len(said) == 1 and meta.get("step") == step,
                f"SIGTERM to rank 1: both stopped after step {step}, its checkpoint written",
                f"exit {proc.returncode}, checkpoint at {meta.get('step')}: {out[-300:]} {err}")
        return
    F.check(proc.returncode != 0, "the killed run exits non-zero", str(proc.returncode))
    said = [line for line in err.splitlines() if line.startswith("samc: rank 0: ")]
    F.check(said and "comm: rank 0" in said[0], "rank 0 says it lost the others", err)
    if said:
        print("  " + said[0])
    r = u.run_samc(samc, ["export", last, "-o", os.path.join(d, "K.safetensors"), "--quiet"])
    F.expect_success("the last checkpoint loads (samc export checks it)", r)


if __name__ == "__main__":
    sys.exit(main())
