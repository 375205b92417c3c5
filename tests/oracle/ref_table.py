"""ref_table.py - what the *_ref.py scripts share: C literals for the
tables of PyTorch's values they write, and their command line.

    x_ref.py             print the table
    x_ref.py FILE        write it to FILE
    x_ref.py --check F   exit 1 when F differs from what PyTorch gives now
"""

import math
import sys


def c(v):
    """A double as a C literal, exact (repr round-trips)."""
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return repr(float(v))


def arr(v, empty=None):
    """A C array initialiser; `empty` stands in for an empty list."""
    if not v and empty is not None:
        return empty
    return "{" + ", ".join(c(x) for x in v) + "}"


def ints(v):
    return "{" + ", ".join(str(int(x)) for x in v) + "}"


def main(table):
    t = table()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            if f.read() != t:
                print("%s differs from PyTorch's values; regenerate it with %s" %
                      (sys.argv[2], sys.argv[0]))
                return 1
        print("ok")
        return 0
    if len(sys.argv) == 2:
        with open(sys.argv[1], "w") as f:
            f.write(t)
        return 0
    sys.stdout.write(t)
    return 0
