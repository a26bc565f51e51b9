"""Tokenisers: character-level and byte-level BPE, both Hugging Face ``tokenizers`` models.

Both kinds are saved as one ``tokenizer.json`` in the model directory and loaded the same way, so
the rest of the package only sees :class:`TextTokenizer`. Special tokens (always present, ids
0..len(SPECIAL_TOKENS)-1 for trained tokenizers) mark the end of a document and the chat roles.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from aigc.core.atomic import atomic_write_bytes
from aigc.core.errors import BadInputError

__all__ = [
    "TOKENIZER_NAME", "EOS", "UNK", "CHAT_TOKENS", "SPECIAL_TOKENS", "TextTokenizer",
    "train_char_tokenizer", "train_bpe_tokenizer", "train_tokenizer",
]

TOKENIZER_NAME = "tokenizer.json"
EOS = "<|endoftext|>"  # GPT-2's document separator, so imported GPT-2 tokenizers agree
UNK = "<|unk|>"  # characters never seen in training (char tokenizer only; byte-level BPE has none)
CHAT_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
SPECIAL_TOKENS = (EOS, UNK, *CHAT_TOKENS)
_CHUNK = 1 << 16  # encode long corpora in chunks so `tokenizers` can use its thread pool


def _hf():
    try:
        import tokenizers
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise BadInputError("text models need the `tokenizers` package: pip install 'aigc[text]'") from exc
    return tokenizers


class TextTokenizer:
    """A thin typed wrapper around a ``tokenizers.Tokenizer``: text <-> token ids."""

    def __init__(self, tokenizer: object) -> None:
        self.hf = tokenizer
        self.vocab_size: int = tokenizer.get_vocab_size(with_added_tokens=True)

    # ------------------------------------------------------------------ io
    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "TextTokenizer":
        path = Path(path)
        if path.is_dir():
            path = path / TOKENIZER_NAME
        if not path.is_file():
            raise BadInputError(f"{path}: tokenizer file not found; the model directory needs {TOKENIZER_NAME}")
        try:
            return cls(_hf().Tokenizer.from_file(str(path)))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
            raise BadInputError(f"{path}: not a readable tokenizer.json ({exc})") from exc

    def save(self, model_dir: str | os.PathLike) -> Path:
        """Write ``tokenizer.json`` into ``model_dir`` atomically."""
        path = Path(model_dir) / TOKENIZER_NAME
        atomic_write_bytes(path, self.hf.to_str(pretty=True).encode("utf-8"))
        return path

    # ------------------------------------------------------------------ use
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special tokens written in the text become their single ids."""
        if len(text) <= _CHUNK:
            return list(self.hf.encode(text).ids)
        return [i for enc in self.hf.encode_batch(_split_chunks(text)) for i in enc.ids]

    def decode(self, ids: Sequence[int], *, skip_special: bool = False) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=skip_special)

    def token_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)

    @property
    def eos_id(self) -> int | None:
        return self.token_id(EOS)

    def stop_ids(self, *, chat: bool = False) -> set[int]:
        """Ids that end a generation: end-of-text, and in chat also the end of the turn or any
        role marker (the model starting someone else's turn)."""
        names = [EOS, *CHAT_TOKENS] if chat else [EOS]
        return {i for i in (self.token_id(n) for n in names) if i is not None}


def _split_chunks(text: str) -> list[str]:
    """Cut ``text`` into ~64 KiB pieces at newlines (kept), so BPE words are never split."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + _CHUNK)
        if end < len(text):
            nl = text.rfind("\n", start, end)
            end = nl + 1 if nl > start else end
        out.append(text[start:end])
        start = end
    return out


def train_char_tokenizer(texts: Iterable[str]) -> TextTokenizer:
    """One token per character seen in ``texts`` (sorted, after the special tokens), as nanoGPT's
    shakespeare_char; unseen characters map to ``<|unk|>``."""
    tk = _hf()
    chars = sorted(set().union(*(set(t) for t in texts)))
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    hf = tk.Tokenizer(tk.models.WordLevel(vocab, unk_token=UNK))
    # Every character (newline included) is its own pre-token; Fuse joins them back without spaces.
    hf.pre_tokenizer = tk.pre_tokenizers.Split(tk.Regex(r".|\n"), behavior="isolated")
    hf.decoder = tk.decoders.Fuse()
    hf.add_special_tokens(list(SPECIAL_TOKENS))
    return TextTokenizer(hf)


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> TextTokenizer:
    """Byte-level BPE (Radford et al. 2019, GPT-2): no unknown tokens, any UTF-8 text round-trips."""
    tk = _hf()
    floor = 256 + len(SPECIAL_TOKENS)
    if vocab_size < floor:
        raise BadInputError(f"--vocab-size must be >= {floor} for byte-level BPE (256 bytes + "
                            f"{len(SPECIAL_TOKENS)} special tokens), got {vocab_size}")
    hf = tk.Tokenizer(tk.models.BPE())
    hf.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                     initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
                                     show_progress=False)
    hf.train_from_iterator((chunk for t in texts for chunk in _split_chunks(t)), trainer)
    return TextTokenizer(hf)


def train_tokenizer(kind: str, texts: Sequence[str], vocab_size: int = 2048) -> TextTokenizer:
    """``kind`` is ``"char"`` or ``"bpe"``."""
    if kind == "char":
        return train_char_tokenizer(texts)
    if kind == "bpe":
        return train_bpe_tokenizer(texts, vocab_size)
    raise BadInputError(f"unknown tokenizer {kind!r}; choose 'char' or 'bpe'")
