"""ref_bf16.py - the PyTorch side of `precision = "bf16"`: mixed-precision
training as PyTorch's documentation describes it (torch.amp, "Automatic
Mixed Precision"): the model and its parameters stay float32, the forward
pass runs under torch.autocast("cpu", dtype=torch.bfloat16), the backward
pass runs outside it (autograd follows the dtypes the forward pass chose),
and the optimizer, here SAM and its base optimizer, updates the float32
parameters with float32 gradients. bf16 needs no GradScaler: its exponent
range is float32's.

SAM under autocast: both forward passes run under autocast, so the second
one casts the perturbed float32 weights to bf16 afresh; the gradient norm
and the perturbation are computed on the float32 gradients.

TOL is the agreement oracle.py asks of samc's bf16 runs against this
reference (see the comment at it).
"""

import contextlib

import torch

# Agreement with samc, ||samc - torch|| / ||torch|| over every tensor after
# K steps (the f32 oracle asks 1e-5). samc rounds where PyTorch's bf16
# kernels round (oneDNN's GEMMs and convolutions: f32 accumulation, one
# rounding; the elementwise and pooling kernels: f32 math, one rounding),
# so both compute the same bf16 values except where an f32 result lies
# within its accumulation error (~1e-7 relative) of the midpoint between
# two bf16 values: there the two sides, which sum in different orders,
# round to neighbours 2^-8 apart. Such flips are rare (about one value in
# 10^5), but batch_norm's backward subtracts means of its gradient and
# amplifies one. Measured over 10 steps on the two models of models_bf16/:
# the MLP agrees to 1e-7 on every backend, the conv net to 1.6e-4 (the
# first convolution's momentum). 1e-3 leaves room for other summation
# orders and is still far below what a wrong rounding rule gives: a matmul
# left in f32, a bf16 result not rounded or a gradient rounded where
# PyTorch keeps f32 moves the momenta by 1e-3 to 1e-1 (seen while writing
# these models: a batch_norm output left in f32 gave 2e-1).
TOL = 1e-3


def torch_kernels_round_once():
    """Whether this PyTorch takes its oneDNN bf16 GEMMs and convolutions
    here, the kernels TOL above is about: PyTorch (1.13, 2.x) routes bf16
    matmul to oneDNN only on CPUs with AVX-512 BW, VL and DQ (its
    mkldnn_bf16_device_check); elsewhere its own loops round partial sums
    to bf16, a different rounding that TOL does not cover. Returns (ok,
    why not)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError as e:
        return False, f"cannot read the CPU's flags ({e})"
    missing = [x for x in ("avx512bw", "avx512vl", "avx512dq") if x not in flags]
    if missing:
        return False, ("this CPU lacks " + ", ".join(missing) + ": PyTorch's bf16 matmul "
                       "does not use oneDNN here, so autocast is not the reference TOL is for")
    if not torch.backends.mkldnn.is_available():
        return False, "this PyTorch is built without oneDNN (mkldnn)"
    return True, ""


def enabled(recipe):
    return recipe.get("precision", "f32") == "bf16"


def autocast(recipe):
    """The context a training step's forward pass runs in."""
    if not enabled(recipe):
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=torch.bfloat16)


def result(t):
    """A tensor as samc writes it: bf16 results are held in float32."""
    return t.float() if t.dtype == torch.bfloat16 else t
