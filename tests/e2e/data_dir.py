#!/usr/bin/env python3
"""data_dir.py - `samc model.lua --data DIR` takes the recipe's relative data
paths under DIR, wherever the model file lives (samc --help: "take relative
data paths of the recipe under DIR").

A model whose recipe names relative files (models/tiny_linear.lua) is run
from the source tree with --data pointing at a temporary folder holding
those files: it must train. Without --data the same relative paths resolve
next to the model file, where no such files are: a clear error naming the
path. Standard library only.

  python3 tests/e2e/data_dir.py SAMC
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bad_inputs  # noqa: E402  (its small, consistent IDX data set)
import e2e_util as u  # noqa: E402


def main():
    samc = os.path.abspath(sys.argv[1])
    model = u.here("models", "tiny_linear.lua")
    d = tempfile.mkdtemp(prefix="samc-e2e-data-")
    F = u.Failures()
    try:
        bad_inputs.write_good_data(d)
        base = ["--epochs", "1", "--quiet"]
        r = u.run_samc(samc, [model] + base)
        F.expect_error("without --data, relative paths are looked up next to the model", r,
                       ["train-images.idx.gz", "cannot open"])
        r = u.run_samc(samc, [model, "--data", d] + base)
        F.expect_success(f"--data DIR with the model given by path ({model})", r)
        r = u.run_samc(samc, [os.path.relpath(model), "--data", d] + base)
        F.expect_success("--data DIR with the model given by a relative path", r)
        old = os.getcwd()
        os.chdir(os.path.dirname(model))
        try:
            r = u.run_samc(samc, ["tiny_linear.lua", "--data", d] + base)
        finally:
            os.chdir(old)
        F.expect_success("--data DIR with the model in the working directory", r)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return F.status("data_dir")


if __name__ == "__main__":
    sys.exit(main())
