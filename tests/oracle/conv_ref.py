#!/usr/bin/env python3
"""PyTorch's values for samc's conv2d at fixed NCHW inputs: stride 2 with
padding, dilation 2 with groups 2, 1x1, a depthwise kernel with a channel
multiplier, a 2x3 kernel with uneven stride, padding and dilation, a
stride larger than the kernel. For each: F.conv2d's output y and, by
autograd, the gradients gx and gw of sum(y * r).

The inputs are small multiples of 1/4 and 1/8, so every product and sum is
exact in float32 and float64 alike: the values do not depend on the order
in which a library sums, on the CPU's instruction set or on the dtype
(checked here: float32 gives the same numbers), and the table is the same
on every machine.

Writes tests/unit/test_conv_torch_ref.h, which test_conv_torch.c checks
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

# (x shape, w shape, stride, padding, dilation, groups)
CASES = [
    ((2, 3, 5, 5), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((2, 3, 7, 6), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    ((1, 4, 7, 7), (6, 2, 3, 3), (1, 1), (2, 2), (2, 2), 2),
    ((2, 3, 4, 5), (5, 3, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ((1, 4, 5, 5), (8, 1, 3, 3), (2, 2), (1, 1), (1, 1), 4),
    ((1, 2, 6, 8), (3, 2, 2, 3), (2, 1), (1, 0), (1, 2), 1),
    ((1, 2, 7, 7), (2, 2, 2, 2), (3, 3), (1, 1), (1, 1), 1),
]
MAXN = 320


def numel(s):
    return s[0] * s[1] * s[2] * s[3]


def run(xs, ws, stride, padding, dilation, groups, dtype):
    x = [((i * 7) % 9 - 4) / 4.0 for i in range(numel(xs))]
    w = [((i * 5) % 7 - 3) / 8.0 for i in range(numel(ws))]
    tx = torch.tensor(x, dtype=dtype).reshape(xs).requires_grad_(True)
    tw = torch.tensor(w, dtype=dtype).reshape(ws).requires_grad_(True)
    y = F.conv2d(tx, tw, None, stride, padding, dilation, groups)
    r = [((i * 3) % 5 - 2) / 2.0 for i in range(y.numel())]
    y.backward(torch.tensor(r, dtype=dtype).reshape(y.shape))
    return (x, w, r, list(y.shape), y.detach().double().flatten().tolist(),
            tx.grad.double().flatten().tolist(), tw.grad.double().flatten().tolist())


def table():
    out = ["/* tests/unit/test_conv_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/conv_ref.py (do not edit): input and weight shapes,",
           " * stride, padding, dilation, groups; inputs x, w, upstream gradient r;",
           " * output shape and values y = F.conv2d(x, w), gradients gx, gw of",
           " * sum(y * r). float64 and float32 give these same values. */",
           "#define CONV_REF_MAXN %d" % MAXN,
           "typedef struct {",
           "\tint64_t xs[4], ws[4], stride[2], padding[2], dilation[2], groups;",
           "\tdouble x[CONV_REF_MAXN], w[CONV_REF_MAXN], r[CONV_REF_MAXN];",
           "\tint64_t ys[4];",
           "\tdouble y[CONV_REF_MAXN], gx[CONV_REF_MAXN], gw[CONV_REF_MAXN];",
           "} conv_ref_row;",
           "static const conv_ref_row conv_ref_rows[] = {"]
    for case in CASES:
        xs, ws, stride, padding, dilation, groups = case
        x, w, r, ys, y, gx, gw = run(*case, torch.float64)
        if run(*case, torch.float32)[3:] != (ys, y, gx, gw):
            raise SystemExit("float32 differs from float64 on %s: the inputs are not exact" %
                             (case,))
        assert max(len(x), len(w), len(r)) <= MAXN
        out.append("\t{%s, %s, %s, %s, %s, %d," % (ints(xs), ints(ws), ints(stride),
                                                 ints(padding), ints(dilation), groups))
        out.append("\t %s," % arr(x))
        out.append("\t %s," % arr(w))
        out.append("\t %s," % arr(r))
        out.append("\t %s, %s," % (ints(ys), arr(y)))
        out.append("\t %s," % arr(gx))
        out.append("\t %s}," % arr(gw))
    out.append("};")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(ref_table.main(table))
