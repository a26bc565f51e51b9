"""The chat format: role markers as special tokens, one turn per block.

A dialogue ``[{"role": "system", "content": S}, {"role": "user", "content": U},
{"role": "assistant", "content": A}]`` is written as::

    <|system|>S<|end|>
    <|user|>U<|end|>
    <|assistant|>A<|end|>
    <|endoftext|>

Each marker is a single special token in both the char and the BPE tokenizer (see
``aigc.text.tokenizer.CHAT_TOKENS``), so a model never confuses user text with a role change.
To answer, the prompt ends with ``<|assistant|>`` and generation stops at ``<|end|>``. Training on
dialogues scores only what the assistant says (its text and its ``<|end|>``): the model learns to
answer, not to imitate users (:func:`assistant_mask`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from aigc.core.errors import BadInputError

__all__ = ["ROLES", "format_turn", "format_dialogue", "chat_prompt", "validate_turns", "assistant_mask"]

ROLES = ("system", "user", "assistant")
END = "<|end|>"
EOS = "<|endoftext|>"


def format_turn(role: str, content: str) -> str:
    return f"<|{role}|>{content}{END}\n"


def validate_turns(turns: Any, *, where: str) -> None:
    """Raise a clear error unless ``turns`` is a non-empty list of {role, content} strings."""
    if not isinstance(turns, list) or not turns:
        raise BadInputError(f"{where}: expected {{\"turns\": [{{\"role\": ..., \"content\": ...}}, ...]}}")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise BadInputError(f"{where}: turn {i} must be {{\"role\": one of {list(ROLES)}, "
                                f"\"content\": text}}, got {turn!r:.80}")


def format_dialogue(turns: Sequence[dict[str, str]]) -> str:
    """A whole training dialogue, ending with ``<|endoftext|>``."""
    return "".join(format_turn(t["role"], t["content"]) for t in turns) + EOS + "\n"


def chat_prompt(turns: Sequence[dict[str, str]]) -> str:
    """The prompt that asks the model for the next assistant turn."""
    validate_turns(list(turns), where="chat history")
    return "".join(format_turn(t["role"], t["content"]) for t in turns) + "<|assistant|>"


def assistant_mask(ids: torch.Tensor, role_ids: dict[str, int], end_id: int) -> torch.Tensor:
    """(N,) float mask of a token stream (N,): 1 on the tokens of assistant turns after their role
    marker, up to and including their ``<|end|>``; 0 elsewhere (markers, user/system turns, gaps)."""
    n = ids.shape[0]
    is_marker = torch.zeros(n, dtype=torch.bool)
    for tid in role_ids.values():
        is_marker |= ids == tid
    opened = torch.cumsum(is_marker.long(), 0)
    closed = torch.cumsum((ids == end_id).long(), 0) - (ids == end_id).long()  # ENDs strictly before t
    positions = torch.where(is_marker, torch.arange(n), torch.full((n,), -1))
    last_marker = torch.cummax(positions, 0).values
    in_assistant = (last_marker >= 0) & (ids[last_marker.clamp(min=0)] == role_ids["assistant"])
    return ((opened > closed) & ~is_marker & in_assistant).float()
