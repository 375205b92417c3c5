#!/usr/bin/env python3
"""check_runs.py - runs a command with the cuDNN stand-in counting its
convolutions (CUDNN_STANDIN_COUNTS names a file each process that unloads
the stand-in appends "cudnn runs FWD BWD_DATA BWD_FILTER" to), and fails
unless the command passed and ran every operation through it:

  python3 check_runs.py COUNTS_FILE CMD [ARGS...]

The command's exit status is passed on when it is not 0 (77: skipped).
"""

import os
import subprocess
import sys


def main():
    counts, cmd = sys.argv[1], sys.argv[2:]
    if os.path.exists(counts):
        os.remove(counts)
    r = subprocess.run(cmd, env=dict(os.environ, CUDNN_STANDIN_COUNTS=counts))
    if r.returncode != 0:
        return r.returncode
    runs = [0, 0, 0]
    if os.path.exists(counts):
        with open(counts) as f:
            for ln in f:
                w = ln.split()
                if w[:2] == ["cudnn", "runs"]:
                    runs = [a + int(b) for a, b in zip(runs, w[2:5])]
    print(f"cuDNN stand-in: {runs[0]} forward, {runs[1]} backward data, "
          f"{runs[2]} backward filter runs")
    if min(runs) == 0:
        print("FAIL: the convolutions did not all run through cuDNN")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
