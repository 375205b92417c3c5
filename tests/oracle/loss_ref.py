#!/usr/bin/env python3
"""PyTorch's values for samc's nll_loss and binary_cross_entropy_with_logits
at fixed inputs (a logit of 0, large logits of both signs, soft targets,
pos_weight): the loss and the gradients of sum(loss * r) with respect to the
float inputs, in f64.

Writes tests/unit/test_loss_torch_ref.h, which test_loss_torch.c checks the
reference interpreter against; with --check FILE it regenerates the table
and fails when FILE differs (run by CTest, so the table stays PyTorch's).
Exits 77 when torch cannot be imported.
"""
import sys

import ref_table
from ref_table import arr

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

N, C = 3, 4
LOGP = [-1.5, -0.25, -2.0, -3.0,
        0.5, -1.0, -0.125, -4.0,
        -0.75, -0.75, 2.0, -6.0]
LABELS = [1, 3, 0]
X = [0.0, -0.0, 1.5, -2.0,
     50.0, -50.0, 0.25, 3.0,
     -0.5, 12.0, -12.0, 800.0]
T = [0.0, 1.0, 0.3, 1.0,
     1.0, 0.0, 0.5, 0.0,
     0.75, 1.0, 0.0, 0.25]
PW = [2.5, 0.5, 1.0, 3.0]

# (loss, reduction, with pos_weight)
CASES = [
    ("nll_loss", "mean", 0), ("nll_loss", "sum", 0), ("nll_loss", "none", 0),
    ("bce_with_logits", "mean", 0), ("bce_with_logits", "sum", 0),
    ("bce_with_logits", "none", 0), ("bce_with_logits", "mean", 1),
    ("bce_with_logits", "none", 1),
]
MAXN = N * C


def run(loss, red, pw):
    f64 = torch.float64
    if loss == "nll_loss":
        x = torch.tensor(LOGP, dtype=f64).reshape(N, C).requires_grad_()
        y = F.nll_loss(x, torch.tensor(LABELS), reduction=red)
        t = None
    else:
        x = torch.tensor(X, dtype=f64).reshape(N, C).requires_grad_()
        t = torch.tensor(T, dtype=f64).reshape(N, C).requires_grad_()
        y = F.binary_cross_entropy_with_logits(
            x, t, reduction=red, pos_weight=torch.tensor(PW, dtype=f64) if pw else None)
    # distinct upstream weights so a swapped element would show
    r = torch.tensor([0.5 + 0.25 * i for i in range(y.numel())], dtype=f64).reshape(y.shape)
    y.backward(r)
    gt = t.grad.flatten().tolist() if t is not None else [0.0] * MAXN
    return r.flatten().tolist(), y.flatten().tolist(), x.grad.flatten().tolist(), gt


def table():
    out = ["/* tests/unit/test_loss_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/loss_ref.py (do not edit). Inputs [LOSS_REF_N, LOSS_REF_C]:",
           " * nll_loss's log-probabilities and labels, bce's logits, targets and",
           " * pos_weight; per case the upstream gradient r, the loss y and the",
           " * gradients gx (and bce's gt) of sum(y * r). */",
           "#define LOSS_REF_N %d" % N,
           "#define LOSS_REF_C %d" % C,
           "static const double loss_ref_logp[] = %s;" % arr(LOGP),
           "static const int loss_ref_labels[] = {%s};" % ", ".join(str(v) for v in LABELS),
           "static const double loss_ref_x[] = %s;" % arr(X),
           "static const double loss_ref_t[] = %s;" % arr(T),
           "static const double loss_ref_pw[] = %s;" % arr(PW),
           "typedef struct {",
           "\tconst char *loss, *reduction;",
           "\tint pos_weight, n;",
           "\tdouble r[%d], y[%d], gx[%d], gt[%d];" % (MAXN, MAXN, MAXN, MAXN),
           "} loss_ref_row;",
           "static const loss_ref_row loss_ref_rows[] = {"]
    for loss, red, pw in CASES:
        r, y, gx, gt = run(loss, red, pw)
        out.append("\t{\"%s\", \"%s\", %d, %d, %s, %s," % (loss, red, pw, len(y), arr(r), arr(y)))
        out.append("\t %s, %s}," % (arr(gx), arr(gt)))
    out.append("};")
    return "\n".join(out) + "\n"



if __name__ == "__main__":
    sys.exit(ref_table.main(table))
