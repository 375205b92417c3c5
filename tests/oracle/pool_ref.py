#!/usr/bin/env python3
"""PyTorch's values for samc's pooling ops at fixed NCHW inputs (ties,
padding, stride != kernel, a NaN, adaptive windows that overlap or
repeat): forward and the gradient of sum(y * r), in f64.

Writes tests/unit/test_pool_torch_ref.h, which test_pool_torch.c checks
the reference interpreter and the CPU backend against; with --check FILE
it regenerates the table and fails when FILE differs (run by CTest).
Exits 77 when torch cannot be imported.
"""
import sys

import ref_table
from ref_table import arr, ints

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

NAN = float("nan")

# (op, kernel, stride, padding, count_include_pad, output_size, shape, nan_at)
CASES = [
    ("max_pool2d", (2, 2), (2, 2), (0, 0), 1, (0, 0), (1, 2, 4, 4), -1),
    ("max_pool2d", (3, 3), (2, 2), (1, 1), 1, (0, 0), (1, 2, 5, 6), -1),
    ("max_pool2d", (3, 2), (1, 2), (1, 0), 1, (0, 0), (2, 1, 4, 5), 7),
    ("avg_pool2d", (3, 3), (2, 2), (1, 1), 1, (0, 0), (1, 2, 5, 6), -1),
    ("avg_pool2d", (3, 3), (2, 2), (1, 1), 0, (0, 0), (1, 2, 5, 6), -1),
    ("avg_pool2d", (2, 3), (1, 2), (1, 1), 0, (0, 0), (2, 1, 4, 5), -1),
    ("adaptive_avg_pool2d", (0, 0), (0, 0), (0, 0), 1, (1, 1), (2, 2, 3, 5), -1),
    ("adaptive_avg_pool2d", (0, 0), (0, 0), (0, 0), 1, (3, 2), (1, 2, 5, 6), -1),
    ("adaptive_avg_pool2d", (0, 0), (0, 0), (0, 0), 1, (4, 7), (1, 1, 3, 5), -1),
]
MAXN = 64


def run(op, k, s, p, cip, osz, shape, nan_at):
    n = shape[0] * shape[1] * shape[2] * shape[3]
    # small integers, so windows hold ties; negative ones test the -inf padding
    x = [float((i * 7) % 5 - 2) for i in range(n)]
    if nan_at >= 0:
        x[nan_at] = NAN
    tx = torch.tensor(x, dtype=torch.float64).reshape(shape).requires_grad_(True)
    if op == "max_pool2d":
        y = F.max_pool2d(tx, k, s, p)
    elif op == "avg_pool2d":
        y = F.avg_pool2d(tx, k, s, p, count_include_pad=bool(cip))
    else:
        y = F.adaptive_avg_pool2d(tx, osz)
    r = [0.5 + 0.25 * i for i in range(y.numel())]
    y.backward(torch.tensor(r, dtype=torch.float64).reshape(y.shape))
    return x, r, list(y.shape), y.flatten().tolist(), tx.grad.flatten().tolist()


def table():
    out = ["/* tests/unit/test_pool_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/pool_ref.py (do not edit): op, kernel, stride, padding,",
           " * count_include_pad, output size, input shape and values x, upstream",
           " * gradient r, output shape and values y, gradient gx of sum(y * r). */",
           "#define POOL_REF_MAXN %d" % MAXN,
           "typedef struct {",
           "\tconst char *op;",
           "\tint64_t k[2], s[2], p[2];",
           "\tint count_pad;",
           "\tint64_t osz[2], shape[4];",
           "\tdouble x[POOL_REF_MAXN], r[POOL_REF_MAXN];",
           "\tint64_t yshape[4];",
           "\tdouble y[POOL_REF_MAXN], gx[POOL_REF_MAXN];",
           "} pool_ref_row;",
           "static const pool_ref_row pool_ref_rows[] = {"]
    for case in CASES:
        op, k, s, p, cip, osz, shape, _ = case
        x, r, ys, y, gx = run(*case)
        assert len(x) <= MAXN and len(y) <= MAXN
        out.append("\t{\"%s\", %s, %s, %s, %d, %s, %s," % (op, ints(k), ints(s), ints(p), cip,
                                                       ints(osz), ints(shape)))
        out.append("\t %s," % arr(x))
        out.append("\t %s," % arr(r))
        out.append("\t %s, %s," % (ints(ys), arr(y)))
        out.append("\t %s}," % arr(gx))
    out.append("};")
    return "\n".join(out) + "\n"



if __name__ == "__main__":
    sys.exit(ref_table.main(table))
