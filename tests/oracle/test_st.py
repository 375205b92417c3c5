#!/usr/bin/python3
"""test_st.py - st.py against the safetensors layout: round trips for every
dtype, the exact bytes of a small file, and the malformed files it must
refuse with a message naming the problem. Exit 1 on failure."""

import json
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"SKIP: numpy not importable ({e}); run with /usr/bin/python3", file=sys.stderr)
    sys.exit(77)

import st  # noqa: E402

failures = []


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)


def expect_error(buf, needle, what):
    try:
        st.parse(buf, "bad.safetensors")
    except st.SafetensorsError as e:
        check(needle in str(e) and "bad.safetensors" in str(e), f"{what}: {e}")
        return
    check(False, f"{what}: accepted")


def header_file(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    rng = np.random.default_rng(7)
    tensors = {
        "f64": rng.standard_normal((3, 4)),
        "f32": rng.standard_normal((5,)).astype(np.float32),
        "f16": rng.standard_normal((2, 2)).astype(np.float16),
        "i64": rng.integers(-2**40, 2**40, (4,)),
        "i32": rng.integers(-9, 9, (2, 3)).astype(np.int32),
        "i16": np.array([-3, 7], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u64": np.array([2**63 + 5], dtype=np.uint64),
        "u32": np.array([4000000000], dtype=np.uint32),
        "u16": np.array([65535], dtype=np.uint16),
        "u8": np.arange(10, dtype=np.uint8),
        "bool": np.array([True, False]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big_endian": np.array([1.5, -2.0], dtype=">f8"),
    }
    buf = st.dumps(tensors, meta={"format": "pt", "k": 3})
    (n,) = struct.unpack("<Q", buf[:8])
    check(n % 8 == 0 and buf[8 + n - 1:8 + n] in (b" ", b"}"), "header padded to 8 bytes")
    got, meta = st.parse(buf)
    check(meta == {"format": "pt", "k": "3"}, "metadata round trip")
    for name, a in tensors.items():
        g = got[name]
        check(g.shape == a.shape and g.dtype == a.dtype.newbyteorder("<") and np.array_equal(g, a),
              f"round trip {name} {a.dtype}{list(a.shape)}")

    bf = np.array([1.0, -2.5, 3.140625, 1e-3], dtype=np.float32)
    g = st.parse(st.dumps({"b": bf}, bf16={"b"}))[0]["b"]
    check(np.allclose(g, bf, rtol=2**-8) and g[2] == np.float32(3.140625), "BF16 round trip")

    # exact bytes of a one-tensor file, as the reference writer lays it out
    b = st.dumps({"x": np.array([1.0, 2.0], dtype=np.float32)})
    h = b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    h += b" " * (-len(h) % 8)
    check(b == struct.pack("<Q", len(h)) + h + struct.pack("<2f", 1.0, 2.0), "exact bytes")

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.safetensors")
        st.write(p, tensors)
        check(np.array_equal(st.read(p)["f64"], tensors["f64"]), "file write/read")

    expect_error(b"\x01\x00", "shorter than", "truncated header length")
    expect_error(struct.pack("<Q", 100) + b"{}", "exceeds the file", "header length beyond the file")
    expect_error(struct.pack("<Q", 2) + b"{x", "not valid JSON", "malformed JSON")
    expect_error(header_file({"a": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
                 "unknown dtype", "unknown dtype")
    expect_error(header_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
                 "outside the data", "truncated data")
    expect_error(header_file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
                 "expected", "shape/size mismatch")
    expect_error(header_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
                 "overlap", "overlapping tensors")
    expect_error(header_file({"a": {"dtype": "F32", "shape": [2]}}), "data_offsets", "missing offsets")

    print(f"test_st: {len(failures)} failure(s)" if failures else "test_st: all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
