#!/usr/bin/env python3
"""PyTorch's values for samc's batch_norm and layer_norm at fixed inputs:
F.batch_norm with training=True (batch statistics, running statistics
updated with the momentum, the unbiased variance) and training=False
(running statistics), on [N,C] and [N,C,H,W] inputs, with and without
affine; F.layer_norm over one and two trailing dims, with and without
affine. Forward, the gradients of sum(y * r) with respect to x, weight and
bias, and the running statistics after the call, in f64.

Writes tests/unit/test_norm_torch_ref.h, which test_norm_torch.c checks
the reference interpreter and the CPU backend against; with --check FILE
it regenerates the table and fails when FILE differs (run by CTest).
Exits 77 when torch cannot be imported.
"""
import math
import sys

import ref_table
from ref_table import arr, ints

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

# (op, training, affine, shape, trailing dims (layer_norm), momentum, eps)
CASES = [
    ("batch_norm", 1, 1, (6, 4), 0, 0.1, 1e-5),
    ("batch_norm", 1, 1, (3, 2, 3, 4), 0, 0.3, 1e-3),
    ("batch_norm", 0, 1, (3, 2, 3, 4), 0, 0.1, 1e-5),
    ("batch_norm", 1, 0, (5, 3), 0, 0.1, 1e-5),
    ("batch_norm", 0, 0, (2, 3, 2, 2), 0, 0.1, 1e-2),
    ("layer_norm", 1, 1, (3, 2, 5), 1, 0.0, 1e-5),
    ("layer_norm", 1, 1, (2, 3, 4), 2, 0.0, 1e-3),
    ("layer_norm", 1, 0, (4, 6), 1, 0.0, 1e-5),
]
MAXN = 80
MAXP = 12


def run(op, training, affine, shape, nd, momentum, eps):
    n = math.prod(shape)
    # an offset per element so the mean matters, and spread so the variance does
    x = [1.5 * math.sin(0.37 * i + 0.1) + 0.3 + 0.05 * (i % 7) for i in range(n)]
    r = [math.cos(0.21 * i) + 0.1 for i in range(n)]
    pshape = shape[1:2] if op == "batch_norm" else shape[len(shape) - nd:]
    npar = math.prod(pshape)
    w = [0.5 + 0.25 * j for j in range(npar)] if affine else []
    b = [0.1 * j - 0.2 for j in range(npar)] if affine else []
    C = shape[1]
    rm = [0.05 * j - 0.1 for j in range(C)] if op == "batch_norm" else []
    rv = [1.0 + 0.1 * j for j in range(C)] if op == "batch_norm" else []
    f64 = dict(dtype=torch.float64)
    tx = torch.tensor(x, **f64).reshape(shape).requires_grad_(True)
    tw = torch.tensor(w, **f64).reshape(pshape).requires_grad_(True) if affine else None
    tb = torch.tensor(b, **f64).reshape(pshape).requires_grad_(True) if affine else None
    if op == "batch_norm":
        trm, trv = torch.tensor(rm, **f64), torch.tensor(rv, **f64)
        y = F.batch_norm(tx, trm, trv, tw, tb, training=bool(training), momentum=momentum, eps=eps)
        rm_out, rv_out = trm.tolist(), trv.tolist()
    else:
        y = F.layer_norm(tx, pshape, tw, tb, eps)
        rm_out, rv_out = [], []
    y.backward(torch.tensor(r, **f64).reshape(shape))
    gw = tw.grad.flatten().tolist() if affine else []
    gb = tb.grad.flatten().tolist() if affine else []
    return (x, r, w, b, rm, rv, y.flatten().tolist(), tx.grad.flatten().tolist(), gw, gb,
            rm_out, rv_out)


def table():
    out = ["/* tests/unit/test_norm_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/norm_ref.py (do not edit): op, training, affine, input",
           " * rank and shape, layer_norm's trailing dims, momentum, eps; input x,",
           " * upstream gradient r, weight w, bias b, running mean and variance",
           " * before; output y, gradients of sum(y * r), running statistics after. */",
           "#define NORM_REF_MAXN %d" % MAXN,
           "#define NORM_REF_MAXP %d" % MAXP,
           "typedef struct {",
           "\tconst char *op;",
           "\tint training, affine, rank;",
           "\tint64_t shape[4];",
           "\tint nd;",
           "\tdouble momentum, eps;",
           "\tdouble x[NORM_REF_MAXN], r[NORM_REF_MAXN];",
           "\tdouble w[NORM_REF_MAXP], b[NORM_REF_MAXP], rm[NORM_REF_MAXP], rv[NORM_REF_MAXP];",
           "\tdouble y[NORM_REF_MAXN], gx[NORM_REF_MAXN];",
           "\tdouble gw[NORM_REF_MAXP], gb[NORM_REF_MAXP];",
           "\tdouble rm_out[NORM_REF_MAXP], rv_out[NORM_REF_MAXP];",
           "} norm_ref_row;",
           "static const norm_ref_row norm_ref_rows[] = {"]
    for case in CASES:
        op, training, affine, shape, nd, momentum, eps = case
        x, r, w, b, rm, rv, y, gx, gw, gb, rmo, rvo = run(*case)
        assert len(x) <= MAXN and len(w) <= MAXP and len(rm) <= MAXP
        sh = list(shape) + [1] * (4 - len(shape))
        out.append("\t{\"%s\", %d, %d, %d, %s, %d, %s, %s," %
                   (op, training, affine, len(shape), ints(sh), nd, ref_table.c(momentum),
                    ref_table.c(eps)))
        out.append("\t %s," % arr(x))
        out.append("\t %s," % arr(r))
        for v in (w, b, rm, rv):
            out.append("\t %s," % arr(v, "{0}"))
        out.append("\t %s," % arr(y))
        out.append("\t %s," % arr(gx))
        for v in (gw, gb, rmo):
            out.append("\t %s," % arr(v, "{0}"))
        out.append("\t %s}," % arr(rvo, "{0}"))
    out.append("};")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(ref_table.main(table))
