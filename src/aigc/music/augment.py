"""Transposition augmentation on training batches (torch), one random shift per piece, never
moving a note off the 88 keys. The numpy twin for single pieces is :func:`aigc.data.music.transpose`."""

from __future__ import annotations

import torch

from aigc.data.music import KEYS

__all__ = ["random_shifts", "random_transpose_rolls", "random_transpose_tokens",
           "random_transpose_voices"]



def random_shifts(lowest: torch.Tensor, highest: torch.Tensor, max_shift: int,
                  generator: torch.Generator | None) -> torch.Tensor:
    """Per-row shift uniform in ``[-max_shift, max_shift]`` clipped so that keys ``lowest`` and
    ``highest`` (``(B,)`` column indices; -1/88 for rows without notes) stay in 0..87."""
    lo = torch.clamp(-lowest, min=-max_shift, max=0)
    hi = torch.clamp(KEYS - 1 - highest, min=0, max=max_shift)
    u = torch.rand(lowest.shape, generator=generator, device=lowest.device)
    return lo + torch.floor(u * (hi - lo + 1)).long().clamp(max=(hi - lo))


def _bounds(has: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lowest and highest key per row among the entries ``has`` marks (rows without any: 0, 87)."""
    lowest = torch.where(has, keys, KEYS).amin(1)
    highest = torch.where(has, keys, -1).amax(1)
    return torch.where(lowest == KEYS, 0, lowest), torch.where(highest < 0, KEYS - 1, highest)


def random_transpose_rolls(roll: torch.Tensor, max_shift: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(B, T, 88)`` -> same, each row shifted along the keys."""
    if not max_shift:
        return roll
    on = roll.flatten(1, -2).amax(dim=1) > 0  # (B, 88) keys used by each piece
    idx = torch.arange(KEYS, device=roll.device).expand_as(on)
    shift = random_shifts(*_bounds(on, idx), max_shift, generator)
    src = (idx - shift[:, None]).clamp(0, KEYS - 1)  # output key k reads input key k - shift
    valid = ((idx - shift[:, None]) >= 0) & ((idx - shift[:, None]) < KEYS)
    out = torch.gather(roll, -1, src[:, None, :].expand_as(roll))
    return out * valid[:, None, :].to(roll.dtype)


def random_transpose_tokens(tokens: torch.Tensor, on: int, off: int, max_shift: int,
                            generator: torch.Generator | None) -> torch.Tensor:
    """Event tokens ``(B, L)``: NOTE_ON ids in ``[on, on+88)`` and NOTE_OFF ids in ``[off, off+88)``
    move together by one shift per row."""
    if not max_shift:
        return tokens
    is_on = (tokens >= on) & (tokens < on + KEYS)
    is_off = (tokens >= off) & (tokens < off + KEYS)
    key = torch.where(is_on, tokens - on, torch.where(is_off, tokens - off, -1))
    has = key >= 0
    shift = random_shifts(*_bounds(has, key), max_shift, generator)
    return torch.where(has, tokens + shift[:, None], tokens)


def random_transpose_voices(classes: torch.Tensor, max_shift: int, generator: torch.Generator | None) -> torch.Tensor:
    """Voice classes ``(B, T, V)`` (0..87 = keys, 88 = rest) shifted per row; rests stay."""
    if not max_shift:
        return classes
    sounding = classes < KEYS
    shift = random_shifts(*_bounds(sounding.flatten(1), classes.flatten(1)), max_shift, generator)
    return torch.where(sounding, classes + shift.view(-1, *([1] * (classes.dim() - 1))), classes)
