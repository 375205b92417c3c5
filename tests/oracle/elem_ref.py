#!/usr/bin/env python3
"""PyTorch's values for samc's attribute-carrying and tie-breaking
elementwise ops at fixed inputs, kinks and ties included: forward and the
gradients of sum(op(...) * r), in f64.

Writes tests/unit/test_elem_torch_ref.h, which test_elem_torch.c checks
the reference interpreter against; with --check FILE it regenerates the
table and fails when FILE differs (run by CTest, so the table stays
PyTorch's). Exits 77 when torch cannot be imported.
"""
import sys

import ref_table
from ref_table import arr, c

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

NAN = float("nan")
INF = float("inf")

# (op, p0, p1, a, b[, c]): p0, p1 are the op's attributes (slope; beta,
# threshold; min, max); b is None for unary ops; where's a is the
# condition (nonzero, NaN included, is true).
CASES = [
    ("leaky_relu", 0.01, 0, [-2.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 2.0, NAN], None),
    ("leaky_relu", 0.2, 0, [-3.0, -0.25, 0.0, 0.25, 3.0, -0.0], None),
    ("softplus", 1.0, 20.0, [-40.0, -1.0, 0.0, 1.0, 19.5, 20.0, 20.5, 50.0], None),
    ("softplus", 2.0, 1.0, [-3.0, -0.5, 0.0, 0.25, 0.5, 0.5000001, 0.75, 4.0], None),
    ("softplus", 0.5, 5.0, [-8.0, 0.0, 9.5, 10.0, 10.5, 30.0], None),
    ("clamp", -0.5, 0.25, [-1.0, -0.5, -0.1, 0.0, 0.25, 0.3, 1.0, NAN], None),
    ("clamp", -INF, 0.25, [-1.0, 0.25, 1.0], None),
    ("clamp", 0.0, INF, [-1.0, 0.0, 1.0], None),
    ("clamp", 0.5, -0.25, [-1.0, 0.0, 0.5, 1.0], None),
    ("maximum", 0, 0, [1.0, 2.0, 3.0, -1.0, NAN, 0.0], [1.0, 3.0, 2.0, -1.0, 1.0, -0.0]),
    ("minimum", 0, 0, [1.0, 2.0, 3.0, -1.0, NAN, 0.0], [1.0, 3.0, 2.0, -1.0, 1.0, -0.0]),
    ("gt", 0, 0, [1.0, 2.0, 3.0, NAN, NAN], [1.0, 3.0, 2.0, 1.0, NAN]),
    ("ge", 0, 0, [1.0, 2.0, 3.0, NAN, NAN], [1.0, 3.0, 2.0, 1.0, NAN]),
    ("lt", 0, 0, [1.0, 2.0, 3.0, NAN, NAN], [1.0, 3.0, 2.0, 1.0, NAN]),
    ("le", 0, 0, [1.0, 2.0, 3.0, NAN, NAN], [1.0, 3.0, 2.0, 1.0, NAN]),
    ("eq", 0, 0, [1.0, 2.0, 3.0, NAN, NAN], [1.0, 3.0, 2.0, 1.0, NAN]),
    ("ne", 0, 0, [1.0, 2.0, 3.0, NAN, NAN], [1.0, 3.0, 2.0, 1.0, NAN]),
    ("where", 0, 0, [1.0, 0.0, -0.0, NAN, -2.0, 0.5], [1.0, 2.0, 3.0, 4.0, 5.0, NAN],
     [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]),
]
MAXN = 8


def run(op, p0, p1, a, b, c=None):
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True) if b else None
    r = [0.5 + 0.25 * i for i in range(len(a))]
    if op == "where":
        tc = torch.tensor(c, dtype=torch.float64, requires_grad=True)
        y = torch.where(ta.detach() != 0, tb, tc)
        y.backward(torch.tensor(r, dtype=torch.float64))
        return r, y.tolist(), [0.0] * len(a), tb.grad.tolist(), tc.grad.tolist()
    if op == "leaky_relu":
        y = F.leaky_relu(ta, p0)
    elif op == "softplus":
        y = F.softplus(ta, p0, p1)
    elif op == "clamp":
        y = torch.clamp(ta, None if p0 == -INF else p0, None if p1 == INF else p1)
    else:
        y = getattr(torch, op)(ta, tb)
    # distinct upstream weights (r above) so a swapped element would show
    if y.dtype == torch.bool:  # comparisons: 0/1 of the inputs' dtype, no gradient
        return r, y.to(torch.float64).tolist(), [0.0] * len(a), [0.0] * len(a), [0.0] * len(a)
    y.backward(torch.tensor(r, dtype=torch.float64))
    gb = tb.grad.tolist() if b else [0.0] * len(a)
    return r, y.tolist(), ta.grad.tolist(), gb, [0.0] * len(a)


def table():
    out = ["/* tests/unit/test_elem_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/elem_ref.py (do not edit): op, attributes, inputs a, b, c,",
           " * upstream gradient r, output y, and the gradients ga, gb, gc of",
           " * sum(y * r). */",
           "#define ELEM_REF_MAXN %d" % MAXN,
           "typedef struct {",
           "\tconst char *op;",
           "\tdouble p0, p1;",
           "\tint n;",
           "\tdouble a[ELEM_REF_MAXN], b[ELEM_REF_MAXN], c[ELEM_REF_MAXN], r[ELEM_REF_MAXN];",
           "\tdouble y[ELEM_REF_MAXN], ga[ELEM_REF_MAXN], gb[ELEM_REF_MAXN], gc[ELEM_REF_MAXN];",
           "} elem_ref_row;",
           "static const elem_ref_row elem_ref_rows[] = {"]
    for case in CASES:
        op, p0, p1, a, b = case[:5]
        cc = case[5] if len(case) > 5 else None
        r, y, ga, gb, gc = run(*case)
        zero = [0.0] * len(a)
        out.append("\t{\"%s\", %s, %s, %d, %s, %s, %s," % (op, c(p0), c(p1), len(a), arr(a),
                                                           arr(b if b else zero), arr(cc if cc else zero)))
        out.append("\t %s, %s," % (arr(r), arr(y)))
        out.append("\t %s, %s, %s}," % (arr(ga), arr(gb), arr(gc)))
    out.append("};")
    return "\n".join(out) + "\n"



if __name__ == "__main__":
    sys.exit(ref_table.main(table))
