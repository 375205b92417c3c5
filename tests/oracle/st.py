"""st.py - read and write the safetensors layout with numpy alone.

Layout: an 8-byte little-endian header length N, N bytes of JSON
({name: {"dtype", "shape", "data_offsets": [begin, end]}}, optional
"__metadata__" of string -> string), then the raw little-endian data.
The writer pads the header with spaces to a multiple of 8, as the
reference implementation does. There is no safetensors package in the
Debian archive, so the oracle carries this one.

BF16 has no numpy dtype: it is read into float32 and written from float32
(round to nearest even).
"""

import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U64": np.dtype("<u8"), "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


class SafetensorsError(ValueError):
    """A malformed file; the message names the file and the problem."""


def _bf16_to_f32(raw):
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(a)
    out = rounded.astype(np.uint16)
    out[nan] = 0x7FC0
    return out


def parse(buf, what="<memory>"):
    """Parses bytes; returns (dict name -> ndarray, metadata dict)."""
    if len(buf) < 8:
        raise SafetensorsError(f"{what}: file of {len(buf)} bytes is shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise SafetensorsError(f"{what}: header length {n} exceeds the file ({len(buf)} bytes)")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{what}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{what}: header is not a JSON object")
    data = memoryview(buf)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    out = {}
    spans = []
    for name, h in header.items():
        try:
            dt, shape, (b, e) = h["dtype"], [int(d) for d in h["shape"]], h["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{what}: tensor '{name}': needs dtype, shape and data_offsets") from None
        if dt != "BF16" and dt not in _DTYPES:
            raise SafetensorsError(f"{what}: tensor '{name}': unknown dtype '{dt}'")
        size = 2 if dt == "BF16" else _DTYPES[dt].itemsize
        count = int(np.prod(shape, dtype=np.int64))
        if not (0 <= b <= e <= len(data)):
            raise SafetensorsError(f"{what}: tensor '{name}': data_offsets [{b}, {e}] outside the data ({len(data)} bytes)")
        if e - b != count * size:
            raise SafetensorsError(f"{what}: tensor '{name}': {e - b} bytes for {dt}{shape} ({count * size} expected)")
        spans.append((b, e, name))
        raw = np.frombuffer(data[b:e], dtype=np.uint16 if dt == "BF16" else _DTYPES[dt])
        arr = _bf16_to_f32(raw) if dt == "BF16" else raw.copy()
        out[name] = arr.reshape(shape)
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError(f"{what}: tensors '{n0}' and '{n1}' overlap")
    return out, meta


def read(path):
    """Reads a file; returns dict name -> ndarray (metadata dropped)."""
    with open(path, "rb") as f:
        return parse(f.read(), path)[0]


def read_with_meta(path):
    with open(path, "rb") as f:
        return parse(f.read(), path)


def dumps(tensors, meta=None, bf16=()):
    """Serialises dict name -> array-like; names in `bf16` are stored as BF16."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if name in bf16:
            raw, dt = _f32_to_bf16(a.astype(np.float32)), "BF16"
        else:
            key = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
            if key not in _NAMES:
                raise SafetensorsError(f"tensor '{name}': dtype {a.dtype} has no safetensors name")
            raw, dt = a.astype(key), _NAMES[key]
        b = np.ascontiguousarray(raw).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if meta:
        header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write(path, tensors, meta=None, bf16=()):
    with open(path, "wb") as f:
        f.write(dumps(tensors, meta, bf16))
