#!/usr/bin/python3
"""aot_oracle.py - the oracle (oracle.py) where samc cannot run: cases and
PyTorch's answers written on a machine with samc, checked elsewhere (a GPU
machine with PyTorch but without LLVM or Lua) by CUDA trainers that take
`samc steps`'s command line (aot_steps.c linked with a trainer's tables).

  aot_oracle.py write DIR [--steps 10] [--seed 1234] MODEL...
      each model's f32 case: DIR/CASE/{init,batches,want}.safetensors and
      case.json (PyTorch's side, as oracle.py computes it; needs lua5.4)
  aot_oracle.py build DIR --samc SAMC MODEL...
      DIR/steps_CASE: `samc build MODEL --device cuda`'s tables linked with
      aot_steps.c (needs samc and a C compiler)
  aot_oracle.py check DIR
      runs DIR/steps_CASE on each case (the CUDA device the environment
      names: SAMC_CUDA_DRIVER, SAMC_CUDA_BLAS, SAMC_CUDA_DNN) and compares
      its OUT with want at oracle.py's tolerance (needs numpy and torch)
  aot_oracle.py all DIR --samc SAMC MODEL...   (write, build, check)

One line per tensor; exit 1 on any failure, 77 where oracle.py skips
(no PyTorch; no bf16 reference on this CPU).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import oracle  # noqa: E402  (exits 77 without PyTorch)
import st  # noqa: E402
import torch  # noqa: E402

import ref_bf16  # noqa: E402
import torch_ref  # noqa: E402


def case_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def write(d, models, steps, seed):
    torch.set_num_threads(1)
    for path in models:
        model = torch_ref.Model(torch_ref.trace(path))
        bf16 = ref_bf16.enabled(model.recipe)
        if bf16:
            ok, why = ref_bf16.torch_kernels_round_once()
            if not ok:  # skipped, never passed: no bf16 reference on this machine
                print(f"SKIP {case_name(path)}: {why}")
                return 77
        cd = os.path.join(d, case_name(path))
        os.makedirs(cd, exist_ok=True)
        init, batches = oracle.make_case(model, "f32", steps, seed)
        oracle.write_inputs(model, init, batches, "f32", cd)
        evaluate = bool(model.states) or "ema" in model.recipe
        want = torch_ref.train(model, init, batches, evaluate)
        st.write(os.path.join(cd, "want.safetensors"), {k: v.numpy() for k, v in want.items()})
        with open(os.path.join(cd, "case.json"), "w") as f:
            json.dump({"model": os.path.basename(path), "steps": steps, "evaluate": evaluate,
                       "tol": ref_bf16.TOL if bf16 else oracle.TOL["f32"]}, f)
        print(f"wrote {cd}")
    return 0


def build(d, samc, models):
    os.makedirs(d, exist_ok=True)
    for path in models:
        out = os.path.join(d, "steps_" + case_name(path))
        r = subprocess.run([samc, "build", path, "--device", "cuda", "--keep", "--verbose",
                            "-o", out], capture_output=True, text=True)
        line = next((ln for ln in r.stdout.splitlines() + r.stderr.splitlines()
                     if "libsamcrt.a" in ln), None)
        if r.returncode != 0 or not line:
            print(f"FAIL {case_name(path)}: samc build failed:\n{r.stderr.strip()}")
            return 1
        # the trainer's own link line with aot_steps.c before the runtime,
        # whose rt_aot_main it replaces
        cmd = shlex.split(line)
        lib = next(i for i, a in enumerate(cmd) if a.endswith("libsamcrt.a"))
        cmd[lib:lib] = [os.path.join(HERE, "aot_steps.c")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        for f in (out + ".samc.c", out + ".samc.o"):
            if os.path.exists(f):
                os.remove(f)
        if r.returncode != 0:
            print(f"FAIL {case_name(path)}: linking aot_steps.c failed:\n{r.stderr.strip()}")
            return 1
        print(f"built {out}")
    return 0


def check(d):
    fails = 0
    cases = sorted(c for c in os.listdir(d) if os.path.isfile(os.path.join(d, c, "case.json")))
    if not cases:
        print(f"FAIL: no cases under {d}")
        return 1
    for c in cases:
        cd = os.path.join(d, c)
        with open(os.path.join(cd, "case.json")) as f:
            meta = json.load(f)
        binary = os.path.join(d, "steps_" + c)
        out = os.path.join(cd, "out.safetensors")
        r, cmd = oracle.run_samc(binary, meta["model"], os.path.join(cd, "init.safetensors"),
                                 os.path.join(cd, "batches.safetensors"), meta["steps"], out,
                                 "f32", "cuda", meta["evaluate"])
        if r.returncode != 0:
            print(f"FAIL {c}: {binary} exited with {r.returncode}\n  {r.stderr.strip()}")
            fails += 1
            continue
        got = st.read(out)
        want = {k: torch.from_numpy(v) for k, v in st.read(os.path.join(cd, "want.safetensors"))
                .items()}
        fails += oracle.compare(c, "f32", got, want, None, meta["tol"])
    print(f"aot oracle: {'FAILED, ' + str(fails) + ' failure(s)' if fails else 'all agree'}")
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["write", "build", "check", "all"])
    ap.add_argument("dir")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--samc", default=os.environ.get("SAMC"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_intermixed_args()
    if a.what in ("build", "all") and not a.samc:
        ap.error("--samc (or SAMC in the environment) is required")
    rc = 0
    if a.what in ("write", "all"):
        rc = write(a.dir, a.models, a.steps, a.seed)
    if rc == 0 and a.what in ("build", "all"):
        rc = build(a.dir, a.samc, a.models)
    if rc == 0 and a.what in ("check", "all"):
        rc = check(a.dir)
    return rc


if __name__ == "__main__":
    sys.exit(main())
