"""Text generation: char / byte-level BPE tokenisers, GPT and LSTM language models, sampling
(greedy, temperature, top-k, top-p, repetition penalty, beam search, KV cache, streaming), chat,
fine-tuning and GPT-2 weight import. Names are imported lazily (no import-time cost).
"""

from __future__ import annotations

from aigc.core.lazy import lazy_exports

# public name -> submodule holding it (a plain dict that grep can read)
_EXPORTS: dict[str, str] = {
    "TextPipeline": "pipeline", "SamplingParams": "sampling", "TextTokenizer": "tokenizer",
    "GPT": "gpt", "GPTConfig": "gpt", "LSTMLM": "lstm", "LSTMConfig": "lstm",
    "TextSettings": "train", "train": "train", "load_corpus": "corpus",
    "demo_corpus": "corpus", "train_demo_text": "demo", "perplexity": "evaluate",
    "convert_gpt2": "hf_import", "chat_prompt": "chat",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
