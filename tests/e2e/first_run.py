#!/usr/bin/env python3
"""first_run.py - what a new user runs into first, through the samc command
line (issue: "fix what a new user hit"):

  metric names  a metric may not be called like the loss or a key of the
                metrics file's records (model error naming file:line); any
                other name, quotes, backslashes and non-ASCII included,
                gives a metrics file that a strict JSON parser reads, with
                no duplicate keys and the loss unchanged
  no data.test  training evaluates nothing and says so; no test metrics
  unused input  a declared input the model never reads may be bound to a
                file or left unbound
  --resume      takes the checkpoint's seed and epochs; a changed batch size
                is named as such
  trainers      run from another directory, find relative data paths under
                the model's directory; else say where they looked and
                suggest --data; --set and did-you-mean
  small things  samc --version, did-you-mean for options, no "nan" for a
                model without accuracy, "1 epoch", --stop-after says so,
                CSV label errors by file line, the progress line's
                running mean labelled and cut to the terminal's width,
                stdout line-buffered into a pipe

  python3 tests/e2e/first_run.py SAMC

Data: the small IDX files of bad_inputs.py, passed with --data DIR.
Standard library only.
"""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bad_inputs  # noqa: E402
import e2e_util as u  # noqa: E402

MODEL = u.here("models", "first_run.lua")
EXIT_USAGE = 2


def strict_records(path):
    """Every line of a metrics file through json.loads, refusing duplicate
    keys and NaN/Infinity (json.loads alone accepts both)."""
    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError(f"duplicate keys in {keys}")
        return dict(pairs)

    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # strict: invalid UTF-8 raises
    return [json.loads(line, object_pairs_hook=no_dups, parse_constant=no_constants)
            for line in text.splitlines()]


def metric_names(samc, d, F):
    base = [MODEL, "--data", d, "--epochs", "1", "--quiet", "--log-every", "1"]
    for name in ("loss", "lr", "step", "kind", "samples_per_s"):
        r = u.run_samc(samc, base + ["--arg", f"metric={name}"])
        F.expect_error(f"a metric named '{name}' is refused", r,
                       ["first_run.lua:17: recipe: metrics: the name", f"'{name}' is reserved"])
    r = u.run_samc(samc, base + ["--arg", "metric=" + "m" * 40])
    F.expect_error("a metric name of 40 bytes is refused", r, ["first_run.lua:17", "longer than"])
    r = u.run_samc(samc, base + ["--arg", "metric=a\tb"])
    F.expect_error("a metric name with a tab is refused", r, ["first_run.lua:17", "UTF-8"])

    ref = os.path.join(d, "ref.jsonl")
    r = u.run_samc(samc, base + ["--metrics", ref])
    if not F.expect_success("the reference run (metric 'accuracy')", r):
        return
    want = strict_records(ref)
    for name in ('bad"name', "back\\slash", "précision", "精度", "a\"\\'/b"):
        path = os.path.join(d, "named.jsonl")
        r = u.run_samc(samc, base + ["--arg", f"metric={name}", "--metrics", path])
        if not F.expect_success(f"a metric named {name!r} trains", r):
            continue
        try:
            got = strict_records(path)
        except ValueError as e:
            F.check(False, f"metric {name!r}: the metrics file is strict JSON", str(e))
            continue
        F.check(True, f"metric {name!r}: the metrics file is strict JSON")
        same = len(got) == len(want) and all(
            g.get(name) == w["accuracy"] and g["loss"] == w["loss"] for g, w in zip(got, want)
            if g["kind"] == "step")
        F.check(same, f"metric {name!r}: its values under its own name, the loss unchanged",
                f"{got[:2]} vs {want[:2]}")


def no_test(samc, d, F):
    path = os.path.join(d, "notest.jsonl")
    code, out, err = u.run_samc(samc, [MODEL, "--data", d, "--arg", "test=false",
                                       "--metrics", path])
    if not F.expect_success("training without data.test", (code, out, err)):
        return
    F.check("no test set" in out and "nothing is evaluated" in out, "it says nothing is evaluated",
            out)
    last = out.strip().splitlines()[-1]
    F.check("test" not in last.replace("no test set", "") and "train loss:" in last,
            "the final line has train metrics, no test metrics", last)
    recs = strict_records(path)
    epochs = [x for x in recs if x["kind"] == "epoch"]
    F.check(len(epochs) == 2 and not any(k.startswith("test_") for e in epochs for k in e),
            "epoch records without test_ keys", str(epochs))


def unused_input(samc, d, F):
    for extra in ("unbound", "bound"):
        r = u.run_samc(samc, [MODEL, "--data", d, "--arg", f"extra={extra}", "--epochs", "1",
                              "--quiet"])
        F.expect_success(f"a declared, unused input left {extra}", r)


def resume_cases(samc, d, F):
    """--resume takes the checkpoint's seed and epochs; a changed batch size
    is named as such."""
    base = [MODEL, "--data", d, "--quiet"]
    full, half = os.path.join(d, "full"), os.path.join(d, "half")
    r = u.run_samc(samc, base + ["--seed", "5", "--epochs", "3", "--checkpoint-dir", full])
    if not F.expect_success("an uninterrupted 3-epoch run with seed 5", r):
        return
    r = u.run_samc(samc, base + ["--seed", "5", "--epochs", "3", "--stop-after", "1",
                                 "--checkpoint-dir", half])
    if not F.expect_success("the same run stopped after epoch 1", r):
        return
    ck = os.path.join(half, "last.safetensors")
    r = u.run_samc(samc, base + ["--resume", ck, "--seed", "3"])
    F.expect_error("--resume with another explicit --seed", r,
                   ["seed 5", "--seed 3", "leave --seed out"])
    r = u.run_samc(samc, base + ["--resume", ck, "--set", "batch_size=8"])
    F.expect_error("--resume with another batch size says so", r,
                   ["trained with batches of 16", "take batches of 8"])
    r = u.run_samc(samc, base + ["--resume", ck, "--checkpoint-dir", half])
    if F.expect_success("--resume without --seed or --epochs", r):
        a, _ = u.read_st(os.path.join(full, "last.safetensors"))
        b, meta = u.read_st(ck)
        F.check(a == b and meta.get("epoch") == "3",
                "it continues with the checkpoint's seed and epochs, bit for bit", str(meta))


def trainer_cases(samc, d, F):
    """A standalone trainer run from another directory finds relative data
    paths under the model's directory recorded at build time; where there
    are none it says where it looked and suggests --data; it takes --set
    and suggests the option meant."""
    shutil.copy(MODEL, os.path.join(d, "first_run.lua"))
    trainer = os.path.join(d, "trainer")
    r = u.run_samc(samc, ["build", os.path.join(d, "first_run.lua"), "-o", trainer, "--quiet"])
    if r[0] == 2 or (r[0] != 0 and "compiler" in r[2]):
        print(f"skip trainer cases: {r[2].strip()}")
        return
    if not F.expect_success("samc build", r):
        return
    elsewhere = tempfile.mkdtemp(prefix="samc-e2e-cwd-")
    try:
        def run(args, cwd=elsewhere):
            p = subprocess.run([trainer] + args, capture_output=True, text=True, cwd=cwd,
                               timeout=120)
            return p.returncode, p.stdout, p.stderr
        F.expect_success("the trainer, run from another directory, finds its data",
                         run(["--epochs", "1", "--quiet"]))
        F.expect_success("the trainer takes --set", run(["--epochs", "1", "--quiet", "--set",
                                                         "optimizer.lr=0.05"]))
        F.expect_error("the trainer suggests --epochs for --epoch", run(["--epoch", "1"]),
                       ["unknown option '--epoch' (did you mean '--epochs'?)"], rc=EXIT_USAGE)
        # built from a folder without the data: the message says where it looked
        nodata = os.path.join(elsewhere, "model")
        os.mkdir(nodata)
        shutil.copy(MODEL, nodata)
        r = u.run_samc(samc, ["build", os.path.join(nodata, "first_run.lua"), "-o", trainer,
                              "--quiet"])
        F.expect_success("samc build of a model without its data", r)
        F.expect_error("no data next to the model: where it looked, and --data", run(["--quiet"]),
                       [os.path.join(nodata, "train-images.idx.gz"), "cannot open",
                        "looked under " + nodata, "--data DIR"])
        F.expect_success("--data DIR then finds it", run(["--quiet", "--epochs", "1", "--data", d]))
        # the model's directory gone (a trainer copied elsewhere): the working directory
        shutil.rmtree(nodata)
        F.expect_success("the model's directory gone: paths under the working directory",
                         run(["--quiet", "--epochs", "1"], cwd=d))
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def small_things(samc, d, F):
    code, out, _ = u.run_samc(samc, ["--version"])
    F.check(code == 0 and re.match(r"samc \d+\.\d+\.\d+", out), "samc --version", out)
    F.expect_error("--epoch suggests --epochs", u.run_samc(samc, [MODEL, "--epoch", "1"]),
                   ["unknown option '--epoch' (did you mean '--epochs'?)"], rc=EXIT_USAGE)
    F.expect_error("check --sample suggests --samples",
                   u.run_samc(samc, ["check", MODEL, "--sample", "3"]),
                   ["did you mean '--samples'?"], rc=EXIT_USAGE)
    F.expect_error("a mistyped command suggests the command", u.run_samc(samc, ["chek", MODEL]),
                   ["did you mean 'check'?"], rc=EXIT_USAGE)

    code, out, err = u.run_samc(samc, [MODEL, "--data", d, "--arg", "metric=", "--epochs", "1",
                                       "--log-every", "1"])
    last = out.strip().splitlines()[-1] if out.strip() else ""
    F.check(code == 0 and "nan" not in last and last.startswith("test loss:"),
            "no accuracy metric: no 'nan', the test loss", last + err)
    F.check("(1 epoch," in last, "'1 epoch', not '1 epochs'", last)
    F.check(re.search(r"step \d+/\d+  epoch mean: loss", out) is not None,
            "the progress line labels its running mean", out)

    ck = os.path.join(d, "ck")
    code, out, err = u.run_samc(samc, [MODEL, "--data", d, "--stop-after", "1",
                                       "--checkpoint-dir", ck])
    F.check(code == 0 and "stopped early" in out and "1 of 2 epochs" in out and
            f"--resume {ck}/last.safetensors" in out, "--stop-after says it stopped early",
            out + err)

    csv_labels(samc, d, F)
    pty_width(samc, d, F)
    pipe_lines(samc, d, F)


def csv_labels(samc, d, F):
    """A bad label in a CSV file is named by its file line, as a bad value
    is: a blank line and the header make the two numberings differ."""
    with open(os.path.join(d, "c.csv"), "w") as f:
        f.write("a,b,y\n1,2,0\n\n3,4,1\n5,6,7\n")
    model = os.path.join(d, "csvm.lua")
    with open(model, "w") as f:
        f.write('local B = batch_size(1)\nlocal x = input("x", {B, 2})\n'
                'local y = input("y", {B}, {dtype = "i32", classes = 3})\n'
                'return { loss = cross_entropy(linear(x, 3), y), optimizer = {name = "sgd"},\n'
                '  data = { format = "csv", train = { x = "c.csv", y = "c.csv" } } }\n')
    r = u.run_samc(samc, [model, "--quiet"])
    F.expect_error("a CSV label error names the file line", r,
                   [os.path.join(d, "c.csv") + ":5: label 7 is out of range"])


def pty_width(samc, d, F):
    """On a 40-column terminal every redraw of the live line fits in 39."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
    p = subprocess.Popen([samc, MODEL, "--data", d, "--epochs", "1"], stdout=slave,
                         stderr=subprocess.PIPE)
    os.close(slave)
    buf = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    p.wait()
    os.close(master)
    text = buf.decode("utf-8", "replace")
    draws = [s.split("\x1b[K")[0] for s in text.split("\r")[1:] if "\x1b[K" in s]
    F.check(p.returncode == 0 and draws and all(len(s) <= 39 for s in draws),
            "the live line is cut to a 40-column terminal",
            f"exit {p.returncode}; {[len(s) for s in draws]} {draws[:1]}")


def pipe_lines(samc, d, F):
    """Into a pipe, the first line arrives while samc still waits (here on a
    FIFO it reads its training images from), not when 4 KB have gathered."""
    fifo = os.path.join(d, "fifo-images")
    os.mkfifo(fifo)
    p = subprocess.Popen([samc, MODEL, "--data", d, "--set", f"data.train.x={fifo}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([p.stdout], [], [], 60)
    line = p.stdout.readline().decode() if ready else ""
    alive = p.poll() is None
    p.kill()
    p.wait()
    F.check(alive and line.startswith("samc: "),
            "the first line comes through a pipe before the run ends", repr(line))


def main():
    samc = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="samc-e2e-first-")
    F = u.Failures()
    try:
        bad_inputs.write_good_data(d)
        metric_names(samc, d, F)
        no_test(samc, d, F)
        unused_input(samc, d, F)
        resume_cases(samc, d, F)
        trainer_cases(samc, d, F)
        small_things(samc, d, F)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("first_run")


if __name__ == "__main__":
    sys.exit(main())
