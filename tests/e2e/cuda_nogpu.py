#!/usr/bin/env python3
"""cuda_nogpu.py - `samc MODEL --device cuda` (and `--backend cuda`, and
`samc steps --backend cuda`) on a machine without a usable GPU exits 1
within a second, before any compile work, with a message naming the cause:
no driver library, the toolkit's link stub (error 34), no device (100) or
an old driver. SAMC_CUDA_DRIVER points the driver at the stub when the
toolkit has one, so that case is checked too. On a machine with a GPU (the
driver loads and sees a device) the commands without SAMC_CUDA_DRIVER would
train, so only the named-library cases run.
samc links neither libcuda nor libcudart (ldd).

  python3 tests/e2e/cuda_nogpu.py SAMC

Standard library only.
"""

import ctypes
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_util as u  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "fashion_mlp.lua")
STUB = "/usr/local/cuda/lib64/stubs/libcuda.so"
CAUSES = ("not found: no NVIDIA driver", "link stub", "finds no CUDA device",
          "older than")


def run(samc, args, env_extra, want):
    env = dict(os.environ, **env_extra)
    t0 = time.monotonic()
    p = subprocess.run([samc] + args, capture_output=True, text=True, env=env, timeout=30)
    dt = time.monotonic() - t0
    what = " ".join(args) + (f" ({env_extra})" if env_extra else "")
    errs = []
    if p.returncode != 1:
        errs.append(f"exit {p.returncode}, expected 1")
    limit = u.time_limit(1.0)  # a second, scaled for sanitizer builds and load
    if dt >= limit:
        errs.append(f"took {dt:.2f} s, expected under {limit:.1f} s")
    if not any(w in p.stderr for w in want):
        errs.append(f"stderr names no cause ({want}): {p.stderr!r}")
    print(f"{what}: exit {p.returncode} in {dt * 1000:.0f} ms: {p.stderr.strip()}")
    return [f"{what}: {e}" for e in errs]


def has_gpu():
    """Whether libcuda.so.1 loads and cuInit finds a device."""
    try:
        cu = ctypes.CDLL("libcuda.so.1")
        n = ctypes.c_int(0)
        return cu.cuInit(0) == 0 and cu.cuDeviceGetCount(ctypes.byref(n)) == 0 and n.value > 0
    except OSError:
        return False


def main():
    samc = sys.argv[1]
    errs = []
    if has_gpu():
        print("this machine has a GPU: only the cases with SAMC_CUDA_DRIVER run")
    else:
        for flag in ("--device", "--backend"):
            errs += run(samc, [MODEL, flag, "cuda"], {}, CAUSES)
        # the probe comes before any file is read: these files do not exist
        errs += run(samc, ["steps", MODEL, "--backend", "cuda", "--init", "no-init.bin",
                           "--batches", "no-batches.bin", "--steps", "1", "--out", "no-out.bin"],
                    {}, CAUSES)
    errs += run(samc, [MODEL, "--device", "cuda"],
                {"SAMC_CUDA_DRIVER": "/nonexistent/libcuda.so.1"},
                ("/nonexistent/libcuda.so.1 not found: no NVIDIA driver",))
    if os.access(STUB, os.R_OK):
        errs += run(samc, [MODEL, "--device", "cuda"], {"SAMC_CUDA_DRIVER": STUB},
                    ("link stub, not a driver (cuInit: error 34",))
    # the driver is opened at run time: samc itself links no libcuda or libcudart
    ldd = subprocess.run(["ldd", samc], capture_output=True, text=True)
    linked = [ln.split()[0] for ln in ldd.stdout.splitlines()
              if ln.split() and ln.split()[0].startswith(("libcuda.", "libcudart."))]
    if linked:
        errs.append(f"samc links {linked}")
    for e in errs:
        print("FAIL:", e)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
