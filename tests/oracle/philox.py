"""philox.py - samc's random step inputs recomputed in numpy, written from
the Philox paper (Salmon et al., "Parallel random numbers: as easy as 1, 2,
3", SC'11) and the layout docs/dsl.md gives for dropout's noise, so the
oracle hands PyTorch the masks without reading them from samc.

    block(seed, stream = fnv1a64(slot name), index = step * nb + i // per)
    block: key = (seed lo, seed hi), counter = (index lo, index hi, stream lo, stream hi)
    f32: per = 4, u[i] = (word[i % 4] >> 8) * 2^-24
    f64: per = 2, u[i] = ((word[2j] << 32 | word[2j + 1]) >> 11) * 2^-53, j = i % 2
    nb = ceil(numel / per)
"""

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
LO = np.uint64(0xFFFFFFFF)


def philox4x32_10(ctr, key):
    """ctr: four uint64 arrays of 32-bit words; key: two ints. Four arrays out."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in ctr)
    k0, k1 = key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
        p0, p1 = M0 * c0, M1 * c2  # 32 x 32 -> 64 bits, exact in uint64
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & LO,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & LO)
    return c0, c1, c2, c3


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def noise(name, shape, dtype, seed, step):
    """The values samc fills the random input `name` with at `step`."""
    n = int(np.prod(shape)) if len(shape) else 1
    f32 = np.dtype(dtype) == np.float32
    per = 4 if f32 else 2
    nb = (n + per - 1) // per
    index = np.uint64(step * nb) + np.arange(nb, dtype=np.uint64)
    stream = fnv1a64(name)
    ctr = (index & LO, index >> np.uint64(32),
           np.full(nb, stream & 0xFFFFFFFF, dtype=np.uint64),
           np.full(nb, stream >> 32, dtype=np.uint64))
    w = np.stack(philox4x32_10(ctr, (seed & 0xFFFFFFFF, seed >> 32)), axis=1)  # [nb, 4]
    if f32:
        u = (w.reshape(-1) >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)
    else:
        pairs = w.reshape(-1, 2)
        u = (((pairs[:, 0] << np.uint64(32)) | pairs[:, 1]) >> np.uint64(11)).astype(np.float64)
        u = u * 2.0 ** -53
    return u[:n].reshape(shape)


if __name__ == "__main__":
    # Random123's known answers for philox4x32_10
    kat = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
           ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
           ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
            (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]
    for ctr, key, want in kat:
        got = tuple(int(x) for x in philox4x32_10([[c] for c in ctr], key))
        assert got == want, (got, want)
    print("philox.py: known answers ok")
