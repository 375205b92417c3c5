#!/usr/bin/env python3
"""PyTorch's values for samc's slicing and joining ops at fixed inputs:
narrow, cat (three inputs, the first twice) and flatten, forward and the
gradients of sum(y * r) with r distinct weights, in f64.

Writes tests/unit/test_slice_torch_ref.h, which test_slice_torch.c checks
the reference interpreter against; with --check FILE it regenerates the
table and fails when FILE differs (run by CTest). Exits 77 when torch
cannot be imported.
"""
import math
import sys

import ref_table
from ref_table import arr, ints

try:
    import torch
except ImportError:
    sys.exit(77)

A_SHAPE = [2, 3, 4]
MAXA = 24
MAXY = 72

# (op, dim, p1, p2): narrow: dim, start, length; cat: dim (b has size 2
# there); flatten: start_dim, end_dim (>= 0, as samc's builder takes them)
CASES = [
    ("narrow", 0, 1, 1), ("narrow", 1, 0, 2), ("narrow", 2, 1, 3), ("narrow", 2, 3, 1),
    ("cat", 0, 0, 0), ("cat", 1, 0, 0), ("cat", 2, 0, 0),
    ("flatten", 0, 2, 0), ("flatten", 1, 2, 0), ("flatten", 0, 1, 0), ("flatten", 1, 1, 0),
]


def values(n, f):
    return [f(i) for i in range(n)]


def run(op, dim, p1, p2):
    a = values(MAXA, lambda i: math.sin(i + 1.0))
    ta = torch.tensor(a, dtype=torch.float64).reshape(A_SHAPE).requires_grad_()
    bshape = list(A_SHAPE)
    tb = None
    if op == "narrow":
        y = torch.narrow(ta, dim, p1, p2)
    elif op == "cat":
        bshape[dim] = 2
        nb = bshape[0] * bshape[1] * bshape[2]
        tb = torch.tensor(values(nb, lambda i: 0.5 * math.cos(i)),
                          dtype=torch.float64).reshape(bshape).requires_grad_()
        y = torch.cat((ta, tb, ta), dim)
    else:
        y = torch.flatten(ta, dim, p1)
    r = values(y.numel(), lambda i: 0.5 + 0.25 * i)
    y.backward(torch.tensor(r, dtype=torch.float64).reshape(y.shape))
    b = tb.detach().flatten().tolist() if tb is not None else []
    gb = tb.grad.flatten().tolist() if tb is not None else []
    return (a, bshape, b, list(y.shape), r, y.detach().flatten().tolist(),
            ta.grad.flatten().tolist(), gb)


def arr_(v):
    return arr(v, empty="{0.0}")


def table():
    out = ["/* tests/unit/test_slice_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/slice_ref.py (do not edit): op, dim and two arguments, input a",
           " * [2,3,4] (and b for cat, whose size along dim is 2: y = cat(a, b, a)),",
           " * upstream gradient r, output y, and the gradients ga, gb of sum(y * r). */",
           "#define SLICE_REF_MAXA %d" % MAXA,
           "#define SLICE_REF_MAXY %d" % MAXY,
           "typedef struct {",
           "\tconst char *op;",
           "\tint dim, p1, p2;",
           "\tint bshape[3], yrank, yshape[3], nb, ny;",
           "\tdouble a[SLICE_REF_MAXA], b[SLICE_REF_MAXA], r[SLICE_REF_MAXY], y[SLICE_REF_MAXY];",
           "\tdouble ga[SLICE_REF_MAXA], gb[SLICE_REF_MAXA];",
           "} slice_ref_row;",
           "static const slice_ref_row slice_ref_rows[] = {"]
    for case in CASES:
        a, bshape, b, yshape, r, y, ga, gb = run(*case)
        out.append("\t{\"%s\", %d, %d, %d, %s, %d, %s, %d, %d," %
                   (case[0], case[1], case[2], case[3], ints(bshape), len(yshape),
                    ints(yshape + [0] * (3 - len(yshape))), len(b), len(y)))
        out.append("\t %s, %s," % (arr_(a), arr_(b)))
        out.append("\t %s, %s," % (arr_(r), arr_(y)))
        out.append("\t %s, %s}," % (arr_(ga), arr_(gb)))
    out.append("};")
    return "\n".join(out) + "\n"



if __name__ == "__main__":
    sys.exit(ref_table.main(table))
