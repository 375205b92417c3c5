#!/usr/bin/env python3
"""curves.py - the run's logs beside its metrics file: the CSV log (log.csv)
read with Python's csv module equals the epoch records of the JSON lines,
value for value, for a metric named with a comma and quotes too, and across
a stop and resume; the curves samc draws at the end of each epoch
(curves.png, curves.svg) are valid pictures with content; `samc plot` over
two runs, and its errors for malformed files and bad arguments; a built
trainer writes the CSV log but draws nothing and loads no cairo, and the
trainers' runtime library calls no cairo function.

  python3 tests/e2e/curves.py SAMC [--keep DIR]

Runs examples/fashion_mlp.lua (the default example) on 1,280 training and
512 test images of Fashion-MNIST; skipped (77) without the data set.
Standard library only: the PNG is decoded here with zlib.
"""

import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
EXAMPLE = u.here("..", "..", "examples", "fashion_mlp.lua")
SHORT = ["--set", "data.limit_train=1280", "--set", "data.limit_test=512", "--quiet",
         "--log-every", "4"]


def png_pixels(path):
    """(width, height, rows of RGBA tuples) of an 8-bit RGB or RGBA PNG, with
    every filter type undone (PNG specification, section 9)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: no PNG signature")
    at, idat, ihdr = 8, b"", None
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0]:
            raise ValueError(f"{path}: bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    if ihdr is None or ihdr[2] != 8 or ihdr[3] not in (2, 6) or ihdr[6] != 0:
        raise ValueError(f"{path}: not an 8-bit RGB(A) non-interlaced PNG: {ihdr}")
    w, h, bpp = ihdr[0], ihdr[1], 3 if ihdr[3] == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + bpp]) + ((255,) if bpp == 3 else ()) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


# matplotlib's tab10 blue and orange: the first two runs' colours
BLUE, ORANGE = (31, 119, 180), (255, 127, 14)


def check_png(F, path, what, want_colours=()):
    try:
        w, h, rows = png_pixels(path)
    except (OSError, ValueError, zlib.error) as e:
        F.check(False, f"{what}: a valid PNG", str(e))
        return
    F.check(w >= 400 and h >= 300, f"{what}: a valid PNG of {w}x{h}", f"{w}x{h}")
    counts = {}
    for row in rows:
        for px in row:
            counts[px[:3]] = counts.get(px[:3], 0) + 1
    background = max(counts.values())
    F.check(len(counts) > 8 and background < 0.97 * w * h,
            f"{what}: not one colour ({len(counts)} colours, {100 - 100 * background / (w * h):.1f}% "
            f"not background)", f"{len(counts)} colours")
    for c in want_colours:
        F.check(counts.get(c, 0) >= 50, f"{what}: curves in {c}", f"{counts.get(c, 0)} pixels")


def check_svg(F, path, what):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        F.check(False, f"{what}: SVG parses as XML", str(e))
        return
    paths = [e for e in root.iter() if e.tag.endswith("}path") or e.tag == "path"]
    F.check(root.tag.endswith("svg") and len(paths) >= 20,
            f"{what}: an SVG with {len(paths)} path elements", root.tag)


def epoch_records(path):
    with open(path) as f:
        return [r for r in map(json.loads, f) if r["kind"] == "epoch"]


def check_csv(F, csv_path, jsonl_path, what):
    """Every CSV row equals its epoch record: the same keys (but kind), the
    same numbers (a null is an empty field)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f, strict=True))
    recs = epoch_records(jsonl_path)
    header = rows[0] if rows else []
    want = [k for k in recs[0] if k != "kind"] if recs else []
    F.check(header == want, f"{what}: the header is the epoch records' keys", f"{header} vs {want}")
    ok = len(rows) - 1 == len(recs)
    for row, rec in zip(rows[1:], recs):
        for k, v in zip(header, row):
            ok &= (v == "" if rec[k] is None else float(v) == float(rec[k]))
    F.check(ok, f"{what}: {len(rows) - 1} rows equal the {len(recs)} epoch records")
    with open(csv_path, "rb") as f:
        raw = f.read()
    F.check(raw.count(b"\r\n") == len(rows) and raw.endswith(b"\r\n"),
            f"{what}: records end with CRLF (RFC 4180)")


def plot_errors(F, samc, d):
    good = os.path.join(d, "good.jsonl")
    bad = os.path.join(d, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"kind":"epoch","epoch":1,"train_loss":1}\n{"kind": "epo\n'
                '{"kind":"epoch","epoch":2,"train_loss":0.5}\n')
    F.expect_error("plot: a malformed line names the file and the line",
                   u.run_samc(samc, ["plot", bad, "-o", os.path.join(d, "x.png")]),
                   ["bad.jsonl:2: not valid JSON"])
    F.check(not os.path.exists(os.path.join(d, "x.png")), "plot: no picture after an error")
    odd = os.path.join(d, "odd.jsonl")
    with open(odd, "w") as f:  # NaN, Infinity, nulls, one epoch, a line still being written
        f.write('{"kind":"step","epoch":1,"step":1,"lr":NaN}\n'
                '{"kind":"epoch","epoch":1,"train_loss":Infinity,"test_loss":null,'
                '"train_acc":0.5}\n{"kind":"epoch","epoch":2,"train_lo')
    r = u.run_samc(samc, ["plot", odd, "-o", os.path.join(d, "odd.png")])
    F.expect_success("plot: NaN, Infinity, null, one epoch and a truncated last line draw", r)
    empty = os.path.join(d, "empty.jsonl")
    open(empty, "w").close()
    F.expect_error("plot: an empty file", u.run_samc(samc, ["plot", empty, "-o", good + ".png"]),
                   ["empty.jsonl: no records to draw"])
    F.expect_error("plot: a missing file", u.run_samc(samc, ["plot", os.path.join(d, "none.jsonl"),
                                                             "-o", good + ".png"]),
                   ["none.jsonl: cannot open the metrics file"])
    F.expect_error("plot: -o with another extension", u.run_samc(samc, ["plot", odd, "-o", "c.jpg"]),
                   ["-o c.jpg: the format comes from the extension: .png or .svg"], rc=2)
    F.expect_error("plot: no -o", u.run_samc(samc, ["plot", odd]), ["no output given"], rc=2)
    F.expect_error("plot: no file", u.run_samc(samc, ["plot", "-o", "c.png"]),
                   ["no metrics file given"], rc=2)
    F.expect_error("plot: an unknown option", u.run_samc(samc, ["plot", odd, "--outptu", "c.png"]),
                   ["did you mean '--output'"], rc=2)
    r = u.run_samc(samc, ["--help"])
    F.check("plot" in r[1] and "training curves" in r[1], "samc --help lists plot")


def runtime_without_cairo(F, samc):
    """Standalone trainers link libsamcrt alone: it must not call cairo."""
    lib = os.path.join(os.path.dirname(samc), "runtime", "libsamcrt.a")
    nm = shutil.which("nm")
    if not nm or not os.path.exists(lib):
        print(f"(no nm or no {lib}: the runtime's symbols are not checked)")
        return
    r = subprocess.run([nm, "-u", lib], capture_output=True, text=True)
    calls = sorted({ln.split()[-1] for ln in r.stdout.splitlines()
                    if ln.split() and ln.split()[-1].startswith(("cairo_", "Fc"))})
    F.check(r.returncode == 0 and not calls, "libsamcrt calls no cairo or fontconfig function",
            repr(calls[:5]))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    samc = os.path.abspath(sys.argv[1])
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    F = u.Failures()
    d = keep or tempfile.mkdtemp(prefix="samc_curves_")
    os.makedirs(d, exist_ok=True)
    try:
        plot_errors(F, samc, d)
        runtime_without_cairo(F, samc)
        if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
            print("skipped: Fashion-MNIST is not installed (dataset-fashion-mnist)")
            return 77 if F.count == 0 else 1
        # the default example, short: CSV log and curves beside the metrics
        a = os.path.join(d, "a")
        os.makedirs(a, exist_ok=True)
        ma = os.path.join(a, "metrics.jsonl")
        F.expect_success("a short run of the default example with log.csv",
                         u.run_samc(samc, [EXAMPLE, "--epochs", "3", "--set", "log.csv=true",
                                           "--metrics", ma] + SHORT))
        check_csv(F, os.path.join(a, "metrics.csv"), ma, "CSV log")
        check_png(F, os.path.join(a, "curves.png"), "curves.png", [BLUE])
        check_svg(F, os.path.join(a, "curves.svg"), "curves.svg")
        F.check(not os.path.exists(os.path.join(a, "curves.png.tmp")), "no temporary file left")

        # a second run (another lr), stopped after epoch 1 and resumed: the
        # CSV keeps one header; a metric named with a comma and quotes
        b = os.path.join(d, "b")
        os.makedirs(b, exist_ok=True)
        with open(EXAMPLE) as f:
            text = f.read()
        odd_name = 'acc, "top-1"'
        model = os.path.join(d, "odd_metric.lua")
        with open(model, "w") as f:
            f.write(text.replace("metrics = { accuracy = accuracy(logits, y) }",
                                 'metrics = { ["acc, \\"top-1\\""] = accuracy(logits, y) }'))
        mb = os.path.join(b, "metrics.jsonl")
        ck = os.path.join(b, "ckpt")
        run = [model, "--epochs", "3", "--set", "log.csv=true", "--set", "optimizer.lr=0.01",
               "--metrics", mb, "--checkpoint-dir", ck] + SHORT
        F.expect_success("run b: stopped after epoch 1", u.run_samc(samc, run + ["--stop-after", "1"]))
        F.expect_success("run b: resumed", u.run_samc(samc, run + ["--resume",
                                                                   os.path.join(ck, "last.safetensors")]))
        check_csv(F, os.path.join(b, "metrics.csv"), mb, "CSV log across a resume")
        with open(os.path.join(b, "metrics.csv"), newline="") as f:
            header = next(csv.reader(f))
        F.check(f"train_{odd_name}" in header, "a metric named with a comma and quotes is one column",
                repr(header))

        # samc plot: both runs overlaid, one colour each
        for ext in ("png", "svg"):
            out = os.path.join(d, f"two.{ext}")
            F.expect_success(f"samc plot over two runs -> .{ext}",
                             u.run_samc(samc, ["plot", ma, mb, "-o", out]))
        check_png(F, os.path.join(d, "two.png"), "two runs (PNG)", [BLUE, ORANGE])
        check_svg(F, os.path.join(d, "two.svg"), "two runs (SVG)")

        # log.csv needs a metrics file that is not itself a .csv
        r = u.run_samc(samc, [EXAMPLE, "--epochs", "1", "--set", "log.csv=true", "--metrics",
                              os.path.join(d, "m.csv")] + SHORT)
        F.expect_error("--metrics m.csv with log.csv", r, ["m.csv: the CSV log (log.csv) would be "
                                                           "written over the metrics file"])
        r = u.run_samc(samc, [EXAMPLE, "--epochs", "1", "--set", "log.csv=true",
                              "--set", "data.limit_train=256", "--set", "data.limit_test=128"])
        F.check(r[0] == 0 and "no metrics file (--metrics FILE): no CSV log" in r[1],
                "log.csv without --metrics says nothing is written", r[1][-300:])

        # a built trainer: --set log.csv=true writes the CSV log; it draws no
        # curves and loads no cairo
        t = os.path.join(d, "t")
        os.makedirs(t)
        trainer = os.path.join(t, "trainer")
        if F.expect_success("samc build of the default example",
                            u.run_samc(samc, ["build", EXAMPLE, "-o", trainer, "--quiet"])):
            r = subprocess.run([trainer, "--epochs", "2", "--set", "log.csv=true", "--metrics",
                                os.path.join(t, "m.jsonl"), "--set", "data.limit_train=256",
                                "--set", "data.limit_test=128", "--quiet"],
                               capture_output=True, text=True, timeout=300)
            F.check(r.returncode == 0, "the trainer with --set log.csv=true", r.stderr[-300:])
            check_csv(F, os.path.join(t, "m.csv"), os.path.join(t, "m.jsonl"), "trainer's CSV log")
            F.check(not os.path.exists(os.path.join(t, "curves.png")), "the trainer draws no curves")
            ldd = shutil.which("ldd")
            if ldd:
                libs = subprocess.run([ldd, trainer], capture_output=True, text=True).stdout
                F.check("cairo" not in libs and "fontconfig" not in libs,
                        "the trainer links no cairo", libs)

        # curves that cannot be written are a warning, said once; the run goes on
        c = os.path.join(d, "c")
        os.makedirs(os.path.join(c, "curves.png"))
        r = u.run_samc(samc, [EXAMPLE, "--epochs", "2", "--metrics", os.path.join(c, "m.jsonl"),
                              "--set", "data.limit_train=256", "--set", "data.limit_test=128"])
        F.check(r[0] == 0 and r[2].count("warning: the curves of epoch 1 were not drawn") == 1
                and "curves.png: cannot write the picture" in r[2] and "epoch 2/2" in r[1],
                "an unwritable curves.png: one warning, the run finishes", r[2][-300:])
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
    return F.status("curves")


if __name__ == "__main__":
    sys.exit(main())
