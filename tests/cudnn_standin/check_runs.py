#!/usr/bin/env python3
"""check_runs.py - runs a command with the cuDNN stand-in counting its
convolutions (CUDNN_STANDIN_COUNTS names a file each process that unloads
the stand-in appends "cudnn runs FWD BWD_DATA BWD_FILTER" and "cudnn bf16
runs ..." to) and the driver's stand-in counting cuBLAS's GEMMs
(CUDA_STANDIN_COUNTS, the same file: "cublas gemms F32_F64 BF16"), and
fails unless the command passed and ran every convolution operation
through cuDNN:

  python3 check_runs.py [--bf16] COUNTS_FILE CMD [ARGS...]

With --bf16 (a precision = "bf16" model): it fails unless GEMMs ran as
bf16 (cublasGemmEx) and, when the command ran convolutions, each operation
ran as a bf16 cuDNN convolution; a model without convolutions passes with
none.

The command's exit status is passed on when it is not 0 (77: skipped).
"""

import os
import subprocess
import sys


def read_counts(path):
    runs, bf16_runs, gemms = [0, 0, 0], [0, 0, 0], [0, 0]
    if os.path.exists(path):
        with open(path) as f:
            for ln in f:
                w = ln.split()
                if w[:2] == ["cudnn", "runs"]:
                    runs = [a + int(b) for a, b in zip(runs, w[2:5])]
                elif w[:3] == ["cudnn", "bf16", "runs"]:
                    bf16_runs = [a + int(b) for a, b in zip(bf16_runs, w[3:6])]
                elif w[:2] == ["cublas", "gemms"]:
                    gemms = [a + int(b) for a, b in zip(gemms, w[2:4])]
    return runs, bf16_runs, gemms


def main():
    args = sys.argv[1:]
    bf16 = args[:1] == ["--bf16"]
    if bf16:
        args = args[1:]
    counts, cmd = args[0], args[1:]
    if os.path.exists(counts):
        os.remove(counts)
    env = dict(os.environ, CUDNN_STANDIN_COUNTS=counts, CUDA_STANDIN_COUNTS=counts)
    r = subprocess.run(cmd, env=env)
    if r.returncode != 0:
        return r.returncode
    runs, bf16_runs, gemms = read_counts(counts)
    print(f"cuDNN stand-in: {runs[0]} forward, {runs[1]} backward data, "
          f"{runs[2]} backward filter runs ({bf16_runs[0]}, {bf16_runs[1]}, "
          f"{bf16_runs[2]} of them bf16); cuBLAS: {gemms[0]} f32/f64 GEMMs, "
          f"{gemms[1]} bf16")
    if bf16:
        if gemms[1] == 0:
            print("FAIL: no GEMM ran as bf16 (cublasGemmEx)")
            return 1
        if max(runs) > 0 and min(bf16_runs) == 0:
            print("FAIL: the convolutions did not all run as bf16 cuDNN convolutions")
            return 1
        return 0
    if min(runs) == 0:
        print("FAIL: the convolutions did not all run through cuDNN")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
