"""cpu_compare.py - two checkpoints of the same run, built for different
CPUs (tests/aot/cpu.sh): every tensor equal bit for bit, or within the
rounding a different vector width gives a reduction (docs/architecture.md,
"Reduction order is fixed per compiled program, not per ISA").

    python3 cpu_compare.py A.safetensors B.safetensors
Prints "bit for bit" or the largest difference; exit 1 beyond the bound.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}

# 10 steps of SGD with momentum around SAM from the same start: a reduction
# that rounds differently moves a weight by a few ulps per step, which the
# later steps carry on; 1e-4 of the tensor's scale bounds that with a wide
# margin while a wrong kernel (an error of the order of the update, lr 0.1
# times a gradient) is far above it.
RTOL = 1e-4


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def main():
    x, y = load(sys.argv[1]), load(sys.argv[2])
    if x.keys() != y.keys():
        print("different tensors: %s vs %s" % (sorted(x), sorted(y)))
        return 1
    worst, name_w, ndiff, total = 0.0, "", 0, 0
    for name in sorted(x):
        a, b = x[name].astype(np.float64), y[name].astype(np.float64)
        total += a.size
        ndiff += int(np.count_nonzero(x[name] != y[name]))
        scale = max(float(np.max(np.abs(a))), 1e-30)
        rel = float(np.max(np.abs(a - b))) / scale if a.size else 0.0
        if rel > worst:
            worst, name_w = rel, name
    if ndiff == 0:
        print("bit for bit")
        return 0
    print("%d of %d values differ, at most %.3g of the tensor's scale (%s)" %
          (ndiff, total, worst, name_w))
    return 0 if worst <= RTOL else 1


if __name__ == "__main__":
    sys.exit(main())
