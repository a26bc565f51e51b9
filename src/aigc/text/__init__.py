"""Text generation: char / byte-level BPE tokenisers, GPT and LSTM language models, sampling
(greedy, temperature, top-k, top-p, repetition penalty, beam search, KV cache, streaming), chat,
fine-tuning and GPT-2 weight import. Names are imported lazily (no import-time cost).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule holding it (a plain dict that grep can read)
_EXPORTS: dict[str, str] = {
    "TextPipeline": "pipeline", "SamplingParams": "sampling", "TextTokenizer": "tokenizer",
    "GPT": "gpt", "GPTConfig": "gpt", "LSTMLM": "lstm", "LSTMConfig": "lstm",
    "TextTrainSpec": "train", "train_text": "train", "load_corpus": "corpus",
    "demo_corpus": "corpus", "train_demo_text": "demo", "perplexity": "evaluate",
    "convert_gpt2": "hf_import", "chat_prompt": "chat",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'aigc.text' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aigc.text.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
