"""What every watermark carries and how each bit is hidden.

Payload: 32 bits = the first 31 bits of the model id (a hash of config + weights) and one flag bit
(1 = made by an aigc generator). Codeword: payload + CRC-24 (OpenPGP polynomial) = 56 bits, each
repeated over many carriers (a DCT coefficient, a group of audio bins, a note's velocity).

Each carrier value ``p`` holds one bit by dithered quantisation index modulation (QIM, Chen &
Wornell 2001): bit 0 moves ``p`` to the lattice ``step * Z + dither``, bit 1 to the lattice shifted
by ``step / 2``. QIM rejects the host signal, so detection needs no original; the soft vote of a
carrier is ``cos(2 pi (p - dither) / step)`` (+1 = bit 0, -1 = bit 1, ~0 for a carrier the host
alone set). Repeated carriers are summed; the CRC tells a decoded payload from noise.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from aigc.core.errors import BadInputError

__all__ = [
    "CHECK_BITS",
    "CODE_BITS",
    "DEFAULT_KEY",
    "PAYLOAD_BITS",
    "Detection",
    "binomial_sf",
    "carrier_rng",
    "crc_ok",
    "decode_soft",
    "encode",
    "payload_bits",
    "payload_hex",
    "qim_embed",
    "qim_soft",
]

PAYLOAD_BITS = 32
CHECK_BITS = 24
CODE_BITS = PAYLOAD_BITS + CHECK_BITS
DEFAULT_KEY = 15485863  # the hash key of Kirchenbauer et al.'s reference code; any integer works
_CRC24_POLY = 0x864CFB  # CRC-24/OpenPGP (RFC 4880)
_CRC24_INIT = 0xB704CE


def payload_bits(model_id: str, flag: int = 1) -> np.ndarray:
    """(32,) uint8: the first 31 bits of ``model_id`` (hex, or hashed when not hex) and the flag."""
    text = str(model_id)
    try:
        value = int(text[:8].ljust(8, "0"), 16)
    except ValueError:
        value = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")
    prefix = value >> 1
    bits = [(prefix >> (30 - i)) & 1 for i in range(31)] + [int(flag) & 1]
    return np.array(bits, dtype=np.uint8)


def payload_hex(bits: np.ndarray) -> str:
    """The model-id prefix a payload names (31 bits as 8 hex digits, last bit 0) and its flag."""
    bits = np.asarray(bits, dtype=np.int64)
    prefix = int("".join(str(b) for b in bits[:31]), 2) << 1
    return f"{prefix:08x}"


def _crc24(bits: np.ndarray) -> np.ndarray:
    reg = _CRC24_INIT
    for b in np.asarray(bits, dtype=np.int64).tolist():
        top = ((reg >> 23) & 1) ^ b
        reg = (reg << 1) & 0xFFFFFF
        if top:
            reg ^= _CRC24_POLY
    return np.array([(reg >> (23 - i)) & 1 for i in range(CHECK_BITS)], dtype=np.uint8)


def encode(payload: np.ndarray) -> np.ndarray:
    """(32,) payload bits -> (56,) codeword: payload then its CRC-24."""
    payload = np.asarray(payload, dtype=np.uint8)
    if payload.shape != (PAYLOAD_BITS,):
        raise BadInputError(f"a watermark payload has {PAYLOAD_BITS} bits, got shape {payload.shape}")
    return np.concatenate([payload, _crc24(payload)])


def crc_ok(code: np.ndarray) -> bool:
    code = np.asarray(code, dtype=np.uint8)
    return bool(np.array_equal(_crc24(code[:PAYLOAD_BITS]), code[PAYLOAD_BITS:]))


def carrier_rng(key: int, *salt: int) -> np.random.Generator:
    """The keyed generator that places carriers and draws dithers (same key, same layout)."""
    return np.random.default_rng([int(key) & 0xFFFFFFFF, *[int(s) & 0xFFFFFFFF for s in salt]])


def qim_embed(values: np.ndarray, bits: np.ndarray, step: float | np.ndarray, dither: np.ndarray) -> np.ndarray:
    """The nearest point to each value on its bit's lattice: ``step * Z + dither + bit * step / 2``."""
    offset = dither + np.asarray(bits, dtype=np.float64) * (np.asarray(step) / 2)
    return np.round((values - offset) / step) * step + offset


def qim_soft(values: np.ndarray, step: float | np.ndarray, dither: np.ndarray) -> np.ndarray:
    """Soft votes in [-1, 1]: +1 on the bit-0 lattice, -1 on the bit-1 lattice."""
    return np.cos(2 * np.pi * (values - dither) / step)


@dataclass
class Detection:
    """What a detector found. ``found``: the codeword's CRC held (or, with an expected payload, the
    soft correlation passed ``z > 4``). ``bit_accuracy``: decoded payload bits equal to the expected
    ones when an expected payload is known, else the share of carriers agreeing with the decoded
    codeword. ``p_value``: chance of a result this strong from an unmarked input."""

    medium: str
    found: bool
    payload: str | None = None
    flag: int | None = None
    bit_accuracy: float | None = None
    z: float | None = None
    p_value: float | None = None
    carriers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    bits: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("bits")
        return {k: v for k, v in out.items() if v not in (None, {})}


def decode_soft(soft: np.ndarray, bit_of: np.ndarray, medium: str, hypotheses: int = 1,
                expected: np.ndarray | None = None) -> Detection:
    """Combine carrier votes ``soft`` (K,) for codeword bits ``bit_of`` (K,) into a Detection.

    Erased carriers hold NaN. Blind: found = CRC holds; p <= hypotheses * 2**-24. With
    ``expected`` payload bits: z = sum of votes signed by the expected codeword / sqrt(K / 2)
    (each vote of an unmarked input has mean 0 and variance 1/2).
    """
    ok = np.isfinite(soft)
    sums = np.bincount(bit_of[ok], weights=soft[ok], minlength=CODE_BITS)
    code = (sums < 0).astype(np.uint8)
    votes = int(ok.sum())
    agree = float(np.mean((soft[ok] < 0) == code[bit_of[ok]].astype(bool))) if votes else 0.0
    det = Detection(medium=medium, found=False, carriers=votes, bits=code[:PAYLOAD_BITS])
    if expected is not None:
        want = encode(expected)
        signs = 1.0 - 2.0 * want[bit_of[ok]]
        det.z = float(np.sum(soft[ok] * signs) / math.sqrt(max(votes, 1) / 2))
        det.p_value = _normal_sf(det.z)
        det.bit_accuracy = float(np.mean(code[:PAYLOAD_BITS] == expected))
        det.found = det.z > 4 or (crc_ok(code) and det.bit_accuracy == 1.0)
    else:
        det.bit_accuracy = agree
        det.found = votes > 0 and crc_ok(code)
        det.p_value = min(1.0, hypotheses * 2.0 ** -CHECK_BITS) if det.found else 1.0
    if det.found or expected is not None:
        det.payload, det.flag = payload_hex(code[:PAYLOAD_BITS]), int(code[PAYLOAD_BITS - 1])
    return det


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    from scipy.stats import binom

    return float(binom.sf(k - 1, n, p))
