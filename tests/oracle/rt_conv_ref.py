#!/usr/bin/env python3
"""PyTorch's f32 CPU conv2d, its input, weight and bias gradients, at fixed
inputs, for test_rt_conv_torch.c to compare rt_conv with bit for bit.

    rt_conv_ref.py [--full] DIR   writes DIR/cases.txt and one DIR/<case>.f32 per case

--full adds the two convolutions of examples/fashion_cnn.lua at batch 128
(about 50 MB of results; a long test).

PyTorch runs f32 CPU convolutions through oneDNN; like rt_conv it is pinned
to AVX2 (ONEDNN_MAX_CPU_ISA, set before torch loads) so that the kernels,
and so the order of every sum, do not depend on whether the CPU has
AVX-512. Each shape runs on 1 and on 2 threads (torch.set_num_threads):
oneDNN splits work, and for the weight gradient its sums, by the thread
count. A case PyTorch would not send to oneDNN is an error here, since it
would test nothing.

cases.txt: one line per case, "name seed n c h w o kh kw stride_h stride_w
pad_h pad_w dil_h dil_w groups threads". The inputs x, w, b, dy are
values(4 seed + 0..3, count), which test_rt_conv_torch.c computes the same
way. <case>.f32: little-endian float32 arrays y, dx, dw, db (PyTorch's
results), back to back, in NCHW (and OIHW) order. Exits 77 when torch
cannot be imported.
"""
import os
import sys

os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)

M64 = (1 << 64) - 1


def values(seed, count):
    """float32 in [-1, 1) on a 2^-23 grid from splitmix64(seed * 2^32 + i),
    exact in float32, so C computes the same bits."""
    with np.errstate(over="ignore"):
        z = np.arange(count, dtype=np.uint64) + np.uint64((seed << 32) & M64)
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    k = (z >> np.uint64(40)).astype(np.float64)
    return torch.from_numpy((k / float(1 << 23) - 1.0).astype(np.float32))


# (name, n, c, h, w, o, kh, kw, stride, padding, dilation, groups)
SHAPES = [
    ("s8c16o32h12", 8, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1),
    ("s64c3o16h32", 64, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1),
    ("s32c16o16h28", 32, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1),
    ("s16c16o32h14_g4_s2", 16, 16, 14, 14, 32, 3, 3, 2, 1, 1, 4),
    ("s16c8o16h13_d2", 16, 8, 13, 13, 16, 3, 3, 1, 2, 2, 1),
    ("s32c16o32h8_1x1", 32, 16, 8, 8, 32, 1, 1, 1, 0, 1, 1),
]
FULL = [
    # the two convolutions of examples/fashion_cnn.lua at batch 128
    ("fashion1", 128, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1),
    ("fashion2", 128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1),
]
THREADS = [1, 2]


def run(seed, shape, threads, out):
    name, n, c, h, w, o, kh, kw, s, p, d, g = shape
    torch.set_num_threads(threads)
    x = values(4 * seed, n * c * h * w).reshape(n, c, h, w)
    wt = values(4 * seed + 1, o * (c // g) * kh * kw).reshape(o, c // g, kh, kw)
    b = values(4 * seed + 2, o)
    backend = torch._C._select_conv_backend(x, wt, b, [s, s], [p, p], [d, d], False, [0, 0], g)
    if backend != torch._C._ConvBackend.Mkldnn:
        print("%s on %d threads: PyTorch picks %s, not oneDNN" % (name, threads, backend))
        sys.exit(1)
    x.requires_grad_(True)
    wt.requires_grad_(True)
    b.requires_grad_(True)
    y = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
    dy = values(4 * seed + 3, y.numel()).reshape(y.shape)
    y.backward(dy)
    case = "%s_t%d" % (name, threads)
    with open(os.path.join(out, case + ".f32"), "wb") as f:
        for t in (y, x.grad, wt.grad, b.grad):
            f.write(t.detach().contiguous().numpy().astype("<f4").tobytes())
    return "%s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n" % (
        case, seed, n, c, h, w, o, kh, kw, s, s, p, p, d, d, g, threads)


def main():
    args = sys.argv[1:]
    full = args[:1] == ["--full"]
    if full:
        args = args[1:]
    if len(args) != 1:
        print("usage: rt_conv_ref.py [--full] DIR")
        return 2
    out = args[0]
    os.makedirs(out, exist_ok=True)
    shapes = SHAPES + (FULL if full else [])
    lines = [run(i, shape, t, out) for i, shape in enumerate(shapes) for t in THREADS]
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.writelines(lines)
    print("%d cases in %s" % (len(lines), out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
