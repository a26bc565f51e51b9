"""Device (cuda / mps / cpu) and precision (fp32 / bf16 / fp16 autocast) selection."""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from aigc.core.config import PRECISIONS
from aigc.core.errors import BadInputError

__all__ = ["select_device", "autocast", "PRECISIONS", "check_precision", "cpu_has_fast_bf16"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit name is checked for availability."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise BadInputError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInputError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise BadInputError(f"device {name!r} requested but MPS is not available; use --device cpu")
    return device


def check_precision(precision: str, device: torch.device) -> None:
    if precision not in PRECISIONS:
        raise BadInputError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision == "fp16" and device.type != "cuda":
        raise BadInputError("fp16 autocast needs a CUDA device; use --precision bf16 or fp32 on CPU")


def autocast(device: torch.device, precision: str) -> ContextManager:
    """Autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    check_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (AMX tiles or AVX512-BF16): there bf16
    autocast makes dense convolutions several times faster; elsewhere it is emulated and slower
    than fp32. False when torch cannot tell."""
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported())
    except AttributeError:  # private probes; absent in some torch builds
        return False
