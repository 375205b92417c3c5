#!/usr/bin/env python3
"""PyTorch's values for samc's embedding at fixed indices (repeats, a row
never used, indices of rank 1 to 3): F.embedding's forward and the weight
gradient of sum(y * r), in float64 and in float32, where the order in
which repeated rows add up decides the bits.

Writes tests/unit/test_embed_torch_ref.h, which test_embed_torch.c checks
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

# (num_embeddings, embedding_dim, index shape, indices)
CASES = [
    (5, 3, (2, 3), [0, 4, 1, 4, 4, 2]),
    (4, 5, (9,), [3, 3, 3, 0, 3, 1, 3, 3, 0]),
    (6, 2, (2, 2, 2), [5, 0, 5, 5, 2, 5, 0, 5]),
]
MAXN = 64


def run(num, dim, shape, idx, dtype, gen):
    w = torch.randn(num, dim, generator=gen, dtype=torch.float32)
    tw = w.to(dtype).requires_grad_(True)
    ti = torch.tensor(idx, dtype=torch.int64).reshape(shape)
    y = F.embedding(ti, tw)
    r = torch.randn(y.shape, generator=gen, dtype=torch.float32)
    y.backward(r.to(dtype))
    return (w.flatten().tolist(), r.flatten().tolist(), y.detach().flatten().tolist(),
            tw.grad.flatten().tolist())


def table():
    out = ["/* tests/unit/test_embed_torch_ref.h - PyTorch " + torch.__version__.split("a")[0] +
           "'s values, written by",
           " * tests/oracle/embed_ref.py (do not edit): num_embeddings, embedding_dim,",
           " * index shape and indices, weight w and upstream gradient r (float32",
           " * values), then per dtype (f64, f32) the output y and the weight",
           " * gradient gw of sum(y * r). */",
           "#define EMBED_REF_MAXN %d" % MAXN,
           "typedef struct {",
           "\tint64_t num, dim;",
           "\tint rank;",
           "\tint64_t shape[3];",
           "\tint idx[EMBED_REF_MAXN];",
           "\tdouble w[EMBED_REF_MAXN], r[EMBED_REF_MAXN];",
           "\tdouble y[2][EMBED_REF_MAXN], gw[2][EMBED_REF_MAXN];",
           "} embed_ref_row;",
           "static const embed_ref_row embed_ref_rows[] = {"]
    for num, dim, shape, idx in CASES:
        res = {}
        for name, dt in (("f64", torch.float64), ("f32", torch.float32)):
            # the same w and r for both dtypes: one generator state per case
            gen = torch.Generator().manual_seed(num * 100 + dim)
            res[name] = run(num, dim, shape, idx, dt, gen)
        w, r = res["f64"][0], res["f64"][1]
        assert len(w) <= MAXN and len(r) <= MAXN
        padded = list(shape) + [1] * (3 - len(shape))
        out.append("\t{%d, %d, %d, %s, %s," % (num, dim, len(shape), ints(padded), ints(idx)))
        out.append("\t %s," % arr(w))
        out.append("\t %s," % arr(r))
        out.append("\t {%s, %s}," % (arr(res["f64"][2]), arr(res["f32"][2])))
        out.append("\t {%s, %s}}," % (arr(res["f64"][3]), arr(res["f32"][3])))
    out.append("};")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(ref_table.main(table))
