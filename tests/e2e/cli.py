#!/usr/bin/env python3
"""cli.py - the samc command line as the README describes it: every help
text is reachable (exit 0), `samc emit --stage=list` is the pass table in
order and every stage prints, every command-line mistake is a usage error
(exit 2) that names the option, and `samc steps` rejects a bad INIT or
BATCHES file with exit 1 and a message naming the file and the tensor.

  python3 tests/e2e/cli.py SAMC

The model is tests/e2e/models/tiny_linear.lua (batch 16, 784 -> 10, SGD
with momentum and SAM); `samc steps` needs no data files.
Standard library only.
"""

import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

EXIT_USAGE = 2
MODEL = u.here("models", "tiny_linear.lua")
B, IN, OUT = 16, 784, 10
COMMANDS = ("train", "build", "emit", "check", "steps")


def f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def ints(fmt, values):
    return struct.pack(f"<{len(values)}{fmt}", *values)


def good_init():
    w = [((i * 37) % 101 - 50) * 1e-4 for i in range(OUT * IN)]
    return {"fc.weight": ("F32", [OUT, IN], f32(w)), "fc.bias": ("F32", [OUT], f32([0.0] * OUT))}


def good_batches(k):
    t = {}
    for s in range(k):
        t[f"x.{s}"] = ("F32", [B, IN], f32([((i + s) % 17) / 17.0 for i in range(B * IN)]))
        t[f"y.{s}"] = ("I64", [B], ints("q", [(i + s) % OUT for i in range(B)]))
    return t


def help_cases(samc, F):
    rc, out, _ = u.run_samc(samc, ["--help"])
    F.check(rc == 0 and all(f"  {c} " in out for c in COMMANDS),
            "samc --help lists every command", f"exit {rc}; stdout: {out!r}")
    for c in COMMANDS:
        rc, out, _ = u.run_samc(samc, [c, "--help"])
        F.check(rc == 0 and out.startswith("usage: samc") and "--set key=value" in out,
                f"samc {c} --help", f"exit {rc}; stdout: {out[:200]!r}")
    rc, out, err = u.run_samc(samc, [MODEL, "--help"])
    F.check(rc == 0 and "--resume CKPT" in out and "--backend NAME" in out,
            "samc model.lua --help shows the train options", f"exit {rc}; {out[:200]!r}{err!r}")


def usage_cases(samc, d, F):
    cases = [
        ("negative seed", [MODEL, "--seed", "-1"], ["--seed", "'-1'"]),
        ("seed past 64 bits", [MODEL, "--seed", "18446744073709551616"], ["--seed"]),
        ("--epochs 0", [MODEL, "--epochs", "0"], ["--epochs", "'0'"]),
        ("--epochs with trailing text", [MODEL, "--epochs", "3x"], ["--epochs", "'3x'"]),
        ("--threads without a value", [MODEL, "--threads"], ["--threads needs a value"]),
        ("empty --metrics", [MODEL, "--metrics="], ["--metrics needs a non-empty value"]),
        ("unknown train option", [MODEL, "--frob"], ["unknown option '--frob'"]),
        ("unknown backend", [MODEL, "--backend", "tpu"], ["unknown backend 'tpu'"]),
        ("--set without a key", ["emit", "--stage=ir", MODEL, "--set", "=3"], ["--set =3"]),
        ("--dtype f16", ["emit", "--stage=ir", MODEL, "--dtype", "f16"], ["--dtype", "'f16'"]),
        ("unknown stage", ["emit", "--stage=nope", MODEL], ["nope"]),
        ("two model files", ["emit", "--stage=ir", MODEL, MODEL], ["one model file only"]),
        ("steps --out without a value",
         ["steps", MODEL, "--init", "i", "--batches", "b", "--steps", "1", "--out"],
         ["--out needs a value"]),
        ("steps --steps 0",
         ["steps", MODEL, "--init", "i", "--batches", "b", "--steps", "0", "--out", "o"],
         ["--steps", "'0'"]),
        ("steps without --init", ["steps", MODEL, "--batches", "b", "--steps", "1", "--out", "o"],
         ["--init"]),
        ("check --samples 0", ["check", MODEL, "--samples", "0"], ["--samples", "'0'"]),
        ("check --samples 3x", ["check", MODEL, "--samples", "3x"], ["--samples", "'3x'"]),
        ("check --tolerance 1e-3x", ["check", MODEL, "--tolerance", "1e-3x"],
         ["--tolerance", "'1e-3x'"]),
        ("unknown command", ["frob"], ["unknown command 'frob'"]),
        # once: 25 s and 2.3 GB before an out-of-memory message naming neither
        ("--threads 100000", [MODEL, "--threads", "100000"],
         ["--threads must be an integer from 1 to 1024", "'100000'"]),
        ("--threads 10^9", [MODEL, "--threads", "1000000000"], ["--threads", "1024"]),
        # once: the next option taken as the value, then "unknown option 'ok'"
        ("an option as a value", [MODEL, "--data", "--data", "ok"], ["--data needs a value"]),
        ("an option as a number", [MODEL, "--epochs", "--seed", "3"], ["--epochs needs a value"]),
        # once: exit 1 ": cannot open :"
        ("empty model file name", ["train", ""], ["the model file name is empty"]),
        ("empty model file name (emit)", ["emit", "--stage=ir", ""],
         ["the model file name is empty"]),
    ]
    for what, args, expect in cases:
        F.expect_error(what, u.run_samc(samc, args), expect, rc=EXIT_USAGE)


def steps_cases(samc, d, F):
    init, batches = os.path.join(d, "init.safetensors"), os.path.join(d, "b.safetensors")
    out = os.path.join(d, "out.safetensors")
    u.write_st(init, good_init())
    u.write_st(batches, good_batches(2))

    def steps(i=init, b=batches, k=2):
        return u.run_samc(samc, ["steps", MODEL, "--init", i, "--batches", b, "--steps", str(k),
                                 "--out", out, "--backend", "interp"])

    if F.expect_success("samc steps on good files", steps()):
        t, _ = u.read_st(out)
        F.check(t.get("loss", (None, None))[:2] == ("F32", [2]) and "fc.weight" in t
                and "opt.fc.weight.momentum_buffer" in t,
                "OUT holds loss [2], the parameters and opt.<param>.momentum_buffer",
                repr({k: v[:2] for k, v in t.items()}))

    def variant(name, base, change):
        path = os.path.join(d, name)
        t = dict(base)
        change(t)
        u.write_st(path, t)
        return path

    gi, gb = good_init(), good_batches(2)
    bad_init = [
        ("INIT without a parameter", lambda t: t.pop("fc.bias"),
         ["no tensor 'fc.bias'", "every parameter"]),
        ("INIT with an extra tensor", lambda t: t.update(extra=("F32", [1], f32([0.0]))),
         ["tensor 'extra' is not a parameter"]),
        ("INIT with a misshapen tensor", lambda t: t.update({"fc.bias": ("F32", [9], f32([0] * 9))}),
         ["tensor 'fc.bias' has shape [9], the model expects [10]"]),
        ("INIT with integer weights",
         lambda t: t.update({"fc.bias": ("I32", [OUT], ints("i", [0] * OUT))}),
         ["tensor 'fc.bias' is I32, the model expects F32 or F64"]),
    ]
    for k, (what, change, expect) in enumerate(bad_init):
        path = variant(f"init{k}.safetensors", gi, change)
        F.expect_error(what, steps(i=path), [path] + expect)
    bad_batches = [
        ("labels as floats", lambda t: t.update({"y.1": ("F32", [B], f32([0.0] * B))}),
         ["tensor 'y.1' is F32", "integer labels"]),
        ("a label out of range", lambda t: t.update({"y.0": ("I64", [B], ints("q", [OUT] * B))}),
         ["tensor 'y.0': label 10 at index 0 is outside [0, 10)"]),
        ("a label past 32 bits", lambda t: t.update({"y.0": ("I64", [B], ints("q", [1 << 40] * B))}),
         ["label 1099511627776 at index 0"]),
        ("a batch of the wrong size",
         lambda t: t.update({"x.1": ("F32", [B // 2, IN], f32([0.0] * (B // 2 * IN)))}),
         ["tensor 'x.1' has shape [8,784], the model expects [16,784]"]),
    ]
    for k, (what, change, expect) in enumerate(bad_batches):
        path = variant(f"batches{k}.safetensors", gb, change)
        F.expect_error(what, steps(b=path), [path] + expect)
    F.expect_error("fewer batches than --steps", steps(k=3),
                   [batches, "no tensor 'x.2' (input 'x' of step 2)"])
    empty = os.path.join(d, "empty.safetensors")
    u.write_bytes(empty, b"")
    F.expect_error("an empty INIT file", steps(i=empty), [empty, "too short"])


# The pass table in order: graph passes, then the CPU backend's.
PASSES = ("ir", "precision", "autodiff", "sam", "micro", "optim", "eval", "simplify", "dce",
          "lowrank", "fuse", "plan", "lower", "split", "llvm",
          "gpusplit", "multi", "cuda", "ptx")


def stage_cases(samc, F):
    rc, out, err = u.run_samc(samc, ["emit", "--stage=list"])
    names = [line.split()[0].split("|")[0] for line in out.splitlines() if line.startswith("  ")]
    F.check(rc == 0 and tuple(names) == PASSES, "emit --stage=list is the pass table in order",
            f"exit {rc}; passes {names}; stderr {err!r}")
    # every pass prints its output (the SAM model runs them all but eval's),
    # and so do the stage names older than the table
    for stage in [p for p in PASSES if p != "eval"] + ["fused", "loops", "gpuloops"]:
        rc, out, err = u.run_samc(samc, ["emit", f"--stage={stage}", MODEL])
        # a build without the CUDA toolkit says so for the PTX
        no_nvrtc = stage == "ptx" and rc == 1 and "without the CUDA toolkit" in err
        F.check((rc == 0 and out) or no_nvrtc, f"emit --stage={stage}",
                f"exit {rc}; stderr {err[-300:]!r}")
    rc, out, err = u.run_samc(samc, ["emit", "--stage=eval", MODEL])
    F.check(rc == 0 and "eval.mask" in out, "emit --stage=eval", f"exit {rc}; {err[-300:]!r}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    samc = os.path.abspath(sys.argv[1]) if os.sep in sys.argv[1] else sys.argv[1]
    F = u.Failures()
    with tempfile.TemporaryDirectory(prefix="samc-e2e-cli-") as d:
        help_cases(samc, F)
        stage_cases(samc, F)
        usage_cases(samc, d, F)
        steps_cases(samc, d, F)
    return F.status("cli")


if __name__ == "__main__":
    sys.exit(main())
