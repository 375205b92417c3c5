#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpora of tests/fuzz/corpus/<target>/:
small valid files of each format and near-valid ones (truncated, a field
off by one, a wrong magic), written from the formats' specifications.
Run from anywhere; it rewrites the seed_* files only (inputs the fuzzer
found and someone kept, crash-* regressions, are left alone)."""
import gzip
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


# ---- IDX: magic 0 0 type rank, big-endian u32 dims, data
def idx(rank_dims, payload, code=0x08):
    h = bytes([0, 0, code, len(rank_dims)]) + b"".join(struct.pack(">I", d) for d in rank_dims)
    return h + payload


img = idx([2, 2, 3], bytes(range(12)))
lab = idx([4], bytes([0, 9, 3, 1]))
put("fuzz_idx", "images", img)
put("fuzz_idx", "labels", lab)
put("fuzz_idx", "images.gz", gzip.compress(img, mtime=0))
put("fuzz_idx", "labels.gz", gzip.compress(lab, mtime=0))
put("fuzz_idx", "truncated", img[:-3])
put("fuzz_idx", "truncated.gz", gzip.compress(img, mtime=0)[:-6])
put("fuzz_idx", "float", idx([2], struct.pack(">ff", 1.5, -2.0), 0x0D))
put("fuzz_idx", "label_range", idx([2], bytes([3, 200])))
put("fuzz_idx", "bad_magic", b"\x01\x00\x08\x01\x00\x00\x00\x02ab")
put("fuzz_idx", "zero_dim", idx([0, 28], b""))

# ---- CSV with a header row
put("fuzz_csv", "plain", "label,x,y\n1,0.5,2\n3,1e-3,-4\n")
put("fuzz_csv", "crlf_quoted", "\"label\",\"x\"\r\n0,1.25\r\n\r\n9,-7\r\n")
put("fuzz_csv", "ragged", "label,x\n1,2\n3\n")
put("fuzz_csv", "not_number", "label,x\n1,abc\n")
put("fuzz_csv", "label_range", "label,x\n12,1\n-1,2\n")
put("fuzz_csv", "header_only", "label,x\n")
put("fuzz_csv", "spaces", " label , x \n 1 , nan \n 2 , inf \n")

# ---- CIFAR: records of 1 (CIFAR-10) or 2 (CIFAR-100) label bytes + 3072 pixels
pix = bytes((i * 7) & 255 for i in range(3072))
put("fuzz_cifar", "cifar10_two", bytes([3]) + pix + bytes([9]) + pix)
put("fuzz_cifar", "cifar100_one", bytes([19, 99]) + pix)
put("fuzz_cifar", "partial_record", bytes([3]) + pix[:100])
put("fuzz_cifar", "label_range", bytes([10]) + pix)
put("fuzz_cifar", "empty", b"")


# ---- .npy: magic, version, header length, dict header padded to 64, data
def npy(header, payload, version=(1, 0)):
    h = header.encode()
    lenfmt = "<H" if version[0] == 1 else "<I"
    pre = 10 if version[0] == 1 else 12
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(lenfmt, len(h)) + h + payload


put("fuzz_npy", "f4_2x3", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                              struct.pack("<6f", *range(6))))
put("fuzz_npy", "i8_scalar", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
                                 struct.pack("<q", -5)))
put("fuzz_npy", "u1_v2", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }",
                             bytes([1, 2, 3, 255]), (2, 0)))
put("fuzz_npy", "f8_v3", npy("{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1,), }",
                             struct.pack("<d", 3.25), (3, 0)))
put("fuzz_npy", "i4_empty", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (0, 5), }", b""))
put("fuzz_npy", "fortran", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                               bytes(16)))
put("fuzz_npy", "big_endian", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                                  bytes(4)))
put("fuzz_npy", "truncated", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }",
                                 bytes(12)))


# ---- safetensors: u64 LE header length, JSON header, data
def st(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


st_ok = st({"__metadata__": {"format": "pt"},
            "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
            "b": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]},
            "h": {"dtype": "F16", "shape": [2], "data_offsets": [24, 28]},
            "e": {"dtype": "BF16", "shape": [0], "data_offsets": [28, 28]}},
           struct.pack("<4f", 1, 2, 3, 4) + struct.pack("<q", 7) + bytes(4))
put("fuzz_safetensors", "valid", st_ok)
put("fuzz_safetensors", "every_dtype", st({
    n: {"dtype": n, "shape": [1], "data_offsets": [o, o + s]}
    for n, s, o in [("F64", 8, 0), ("F32", 4, 8), ("I64", 8, 12), ("I32", 4, 20),
                    ("I16", 2, 24), ("U16", 2, 26), ("I8", 1, 28), ("U8", 1, 29),
                    ("U32", 4, 30), ("U64", 8, 34), ("F16", 2, 42), ("BF16", 2, 44)]},
    bytes(46)))
put("fuzz_safetensors", "truncated", st_ok[:-5])
put("fuzz_safetensors", "overlap", st({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                                       "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}},
                                      bytes(6)))
put("fuzz_safetensors", "size_mismatch", st({"a": {"dtype": "F32", "shape": [3],
                                                   "data_offsets": [0, 8]}}, bytes(8)))
put("fuzz_safetensors", "huge_shape", st({"a": {"dtype": "F64", "shape": [2147483648, 1073741824],
                                                "data_offsets": [0, 0]}}, b""))
put("fuzz_safetensors", "bad_dtype", st({"a": {"dtype": "Q4", "shape": [1],
                                               "data_offsets": [0, 1]}}, bytes(1)))
put("fuzz_safetensors", "header_len_huge", struct.pack("<Q", 1 << 62) + b"{}")
put("fuzz_safetensors", "empty_header", st({}, b""))


# ---- checkpoint: safetensors with samc's metadata and checksum (rt_ckpt.h)
def fnv(h, b):
    for c in b:
        h ^= c
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def ckpt(tensors, meta, corrupt=False):
    """tensors: (name, dtype, shape, bytes); meta without the checksum."""
    h = 0xcbf29ce484222325
    for name, dt, shape, data in sorted(tensors):
        h = fnv(h, name.encode() + b"\0")
        h = fnv(h, dt.encode() + b"\0")
        for x in [len(shape)] + list(shape):
            h = fnv(h, struct.pack("<q", x))
        h = fnv(h, data)
    m = dict(meta)
    m["checksum"] = "fnv1a64:%016x" % (h ^ (1 if corrupt else 0))
    header, off, blob = {"__metadata__": m}, 0, b""
    for name, dt, shape, data in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blob += data
    return st(header, blob)


T = [("fc.weight", "F32", [2, 3], struct.pack("<6f", *[0.5 * i for i in range(6)])),
     ("fc.bias", "F32", [2], struct.pack("<2f", 1, -1)),
     ("opt.fc.weight.momentum_buffer", "F64", [2, 3], struct.pack("<6d", *range(6)))]
M = {"format": "samc-ckpt", "format_version": "1", "step": "12", "epoch": "2", "seed": "1",
     "shuffle_stream": "3", "batch_size": "4", "epochs": "5", "program_hash": "fuzz-model"}
put("fuzz_ckpt", "valid", ckpt(T, M))
put("fuzz_ckpt", "mid_epoch", ckpt(T, dict(M, epoch_sums='{"loss": [1.5, 3]}',
                                           best='{"monitor": "test.accuracy", "mode": "max", '
                                                '"kept": [[1, 0.5]]}',
                                           early_stopping='{"monitor": "test.loss", "mode": '
                                                          '"min", "best": 0.1, "best_epoch": 1, '
                                                          '"wait": 0}')))
put("fuzz_ckpt", "corrupted", ckpt(T, M, corrupt=True))
put("fuzz_ckpt", "other_model", ckpt(T, dict(M, program_hash="another")))
put("fuzz_ckpt", "missing_tensor", ckpt(T[:2], M))
put("fuzz_ckpt", "wrong_shape", ckpt([("fc.weight", "F32", [3, 2], T[0][3])] + T[1:], M))
put("fuzz_ckpt", "bad_step", ckpt(T, dict(M, step="-1x")))
put("fuzz_ckpt", "version_2", ckpt(T, dict(M, format_version="2")))
put("fuzz_ckpt", "not_ckpt", st_ok)

# ---- --set values, one per line
put("fuzz_set", "numbers", "optimizer.lr=0.1\noptimizer.sam.rho=0.05\nepochs=3\nseed=42")
put("fuzz_set", "groups", "optimizer.sam.groups[1].rho=0.2\noptimizer.sam.groups[2].rho=1e-3")
put("fuzz_set", "pairs", "optimizer.betas=0.8,0.99\ndata.mean=0.5,0.4,0.3\ndata.std=0.2")
put("fuzz_set", "enums", "schedule.name=cosine\nschedule.t_max=10\nschedule.eta_min=0\n"
                         "checkpoint.mode=max\nearly_stopping.patience=2")
put("fuzz_set", "bools", "data.drop_last=false\ndata.augment.flip=true\n"
                         "data.augment.crop.size=28\ndata.augment.crop.padding=4")
put("fuzz_set", "errors", "optimizer.lr=-1\noptimizer.lrr=1\nepochs=1.5\n=3\nschedule.gamma\n"
                          "optimizer.sam.groups[0].rho=1\nbatch_size=64")
put("fuzz_set", "maps", "data.train.x=a.gz\nmetrics.acc=1\noptimizer.momentum=0")

# ---- model files: the examples' shapes, small
MODEL_HEAD = 'local B = batch_size(%d)\n'
put("fuzz_model", "mlp_sam", MODEL_HEAD % 4 + """local x = input("x", {B, 8})
local y = input("y", {B}, {dtype = "i32", classes = 3})
local h = relu(linear(x, 6, {name = "fc1"}))
local logits = linear(h, 3, {name = "fc2"})
return {
  loss = cross_entropy(logits, y),
  metrics = { accuracy = accuracy(logits, y) },
  optimizer = { name = "sgd", lr = 0.05, momentum = 0.9, sam = { rho = 0.05 } },
}
""")
put("fuzz_model", "adamw_mse", MODEL_HEAD % 2 + """local x = input("x", {B, 3})
local t = input("t", {B, 2})
local p = tanh(linear(x, 2)) * 2 + sigmoid(linear(x, 2, {name = "gate"}))
return { loss = mse_loss(p, t), optimizer = { name = "adamw", lr = 1e-3 } }
""")
put("fuzz_model", "cnn", MODEL_HEAD % 2 + """local x = input("x", {B, 1, 6, 6})
local y = input("y", {B}, {dtype = "i32", classes = 2})
local h = relu(batch_norm(conv2d(x, 2, 3, {padding = 1})))
h = max_pool2d(h, 2)
local logits = linear(reshape(h, {B, 18}), 2)
return { loss = cross_entropy(logits, y), optimizer = { name = "adam", lr = 0.01 },
  schedule = { name = "step", step_size = 2, gamma = 0.5 } }
""")
put("fuzz_model", "bad_shape", MODEL_HEAD % 2 + """local x = input("x", {B, 3})
return { loss = sum(matmul(x, x)) }
""")
put("fuzz_model", "syntax", "local B = batch_size(2\n")
put("fuzz_model", "loop", "while true do end\n")
