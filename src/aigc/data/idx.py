"""The idx format of MNIST and Fashion-MNIST (LeCun et al.), read with clear errors."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from aigc.core.errors import BadInputError

__all__ = ["read_idx"]

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (optionally .gz) into an array of the shape its header declares."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadInputError(f"{path}: cannot read ({exc}); the file may be truncated") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise BadInputError(f"{path}: not an idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise BadInputError(f"{path}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise BadInputError(f"{path}: header declares shape {shape} ({expected} bytes of data) but "
                            f"the file holds {len(raw) - header}; it is truncated or corrupt")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
