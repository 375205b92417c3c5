"""e2e_util.py - helpers shared by the end-to-end tests, standard library only
(so the tests that do not need PyTorch run with any python3).

  run_samc(samc, args)            runs samc, returns (exit status, stdout, stderr)
  read_st(path)                   safetensors -> ({name: (dtype, shape, raw bytes)}, metadata)
  write_st(path, tensors)         the reverse: {name: (dtype, shape, raw bytes)} -> safetensors
  write_idx(path, dims, data)     an IDX file of unsigned bytes, gzipped if path ends in .gz
  idx_bytes(dims, data)           the same, as bytes
  Failures                        collects "ok"/"FAIL" lines and the exit status
"""

import gzip
import json
import os
import struct
import subprocess
import sys

# Exit status of samc for an error in the model or its data (README).
EXIT_MODEL = 1


def time_limit(seconds):
    """seconds scaled as tests/time_scale.sh scales them: by the build's
    SAMC_TEST_TIME_SCALE (sanitizer and Debug builds are slower) and by the
    load per core when the machine is busier than its cores."""
    scale = float(os.environ.get("SAMC_TEST_TIME_SCALE", "1"))
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = 0
    return seconds * scale * max(1.0, load)


def run_samc(samc, args, timeout=300):
    """Runs `samc ARGS`; returns (returncode, stdout, stderr)."""
    r = subprocess.run([samc] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def read_st(path):
    """Reads a safetensors file without numpy: returns
    ({name: (dtype, shape, raw bytes)}, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    data = buf[8 + n:]
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        out[name] = (h["dtype"], list(h["shape"]), data[b:e])
    return out, meta


def write_st(path, tensors):
    """Writes {name: (dtype, shape, raw bytes)} as safetensors, in name order."""
    header, offset = {}, 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in sorted(tensors):
            f.write(tensors[name][2])


def idx_bytes(dims, data, type_code=0x08, magic_prefix=b"\x00\x00"):
    """IDX layout: 2 zero bytes, data type (0x08 = unsigned byte), rank, then
    each dimension as a big-endian u32, then the data."""
    head = magic_prefix + bytes([type_code, len(dims)])
    head += b"".join(struct.pack(">I", d) for d in dims)
    return head + bytes(data)


def write_idx(path, dims, data, **kw):
    raw = idx_bytes(dims, data, **kw)
    write_bytes(path, raw)


def write_bytes(path, raw):
    """Writes raw bytes, gzip-compressed when the name ends in .gz."""
    if path.endswith(".gz"):
        # mtime=0: the same bytes on every run
        with open(path, "wb") as f:
            f.write(gzip.compress(raw, mtime=0))
    else:
        with open(path, "wb") as f:
            f.write(raw)


class Failures:
    """Prints one line per check and remembers whether any failed."""

    def __init__(self):
        self.count = 0
        self.total = 0

    def check(self, ok, what, detail=""):
        self.total += 1
        if not ok:
            self.count += 1
        print(f"{'ok  ' if ok else 'FAIL'} {what}{('  ' + detail) if detail and not ok else ''}")
        sys.stdout.flush()
        return ok

    def expect_error(self, what, result, substrings, rc=EXIT_MODEL):
        """samc must exit with `rc` and print every substring on stderr."""
        code, out, err = result
        missing = [s for s in substrings if s not in err]
        ok = code == rc and not missing
        detail = (f"exit status {code} (expected {rc}); "
                  f"missing {missing!r} in stderr: {err.strip()!r}")
        return self.check(ok, what, detail)

    def expect_success(self, what, result):
        code, out, err = result
        return self.check(code == 0, what, f"exit status {code}; stderr: {err.strip()!r}")

    def status(self, name):
        print(f"{name}: {self.total - self.count} of {self.total} checks passed")
        return 1 if self.count else 0


def here(*parts):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), *parts)
