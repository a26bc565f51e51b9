"""The chat format: role markers as special tokens, one turn per block.

A dialogue ``[{"role": "system", "content": S}, {"role": "user", "content": U},
{"role": "assistant", "content": A}]`` is written as::

    <|system|>S<|end|>
    <|user|>U<|end|>
    <|assistant|>A<|end|>
    <|endoftext|>

Each marker is a single special token in both the char and the BPE tokenizer (see
``aigc.text.tokenizer.CHAT_TOKENS``), so a model never confuses user text with a role change.
To answer, the prompt ends with ``<|assistant|>`` and generation stops at ``<|end|>``.
"""

from __future__ import annotations

from typing import Any, Sequence

from aigc.core.errors import BadInputError

__all__ = ["ROLES", "format_turn", "format_dialogue", "chat_prompt", "validate_turns"]

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
