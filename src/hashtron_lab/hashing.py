"""Public hashing functions (thin, validated wrappers over the numba kernels)."""
from __future__ import annotations

import numpy as np

from .kernels import hashing as _k
from .kernels.threads import threads_for

U32 = 0xFFFFFFFF


def hash32(n: int, s: int, max: int) -> int:  # noqa: A002 - the reference's name
    """hash(n, s, max) of DESIGN §1, bit-exact with neurlang/classifier; all three in [0, 2^32)."""
    for name, v in (("n", n), ("s", s), ("max", max)):
        if not isinstance(v, (int, np.integer)) or not 0 <= int(v) <= U32:
            raise ValueError(f"{name} must be an integer in [0, 2**32), got {v!r}")
    return int(_k.hash32(np.uint32(n), np.uint32(s), np.uint32(max)))


def hash_array(n, s, max) -> np.ndarray:  # noqa: A002
    """Batched hash over broadcast uint32 arrays/scalars; returns a uint32 array of the broadcast shape."""
    arrays = []
    for name, v in (("n", n), ("s", s), ("max", max)):
        a = np.asarray(v)
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name} must hold integers, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() > U32):
            raise ValueError(f"{name} must be in [0, 2**32)")
        arrays.append(a.astype(np.uint32, copy=False))
    bn, bs, bm = np.broadcast_arrays(*arrays)
    out = np.empty(bn.shape, dtype=np.uint32)
    flat = out.reshape(-1)
    threads_for(flat.shape[0])
    _k.hash_into(np.ascontiguousarray(bn).reshape(-1), np.ascontiguousarray(bs).reshape(-1),
                 np.ascontiguousarray(bm).reshape(-1), flat)
    return flat.reshape(bn.shape)
