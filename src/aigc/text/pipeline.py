"""Inference for text models: ``generate`` (one prompt or a batch), ``stream`` and ``chat``.

The same model, seed and parameters give the same text on the same device; every output can be
saved with its recipe (model id, seed, parameters) in a sidecar JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from aigc.core.artifacts import save_text
from aigc.core.errors import BadInputError
from aigc.core.modeldir import model_id
from aigc.core.pipeline import Pipeline, load_objective
from aigc.core.seed import make_generator
from aigc.text.chat import chat_prompt
from aigc.text.sampling import SamplingParams, TokenSampler, beam_search
from aigc.text.tokenizer import CHAT_TOKENS, TextTokenizer

__all__ = ["TextPipeline", "MAX_PROMPTS"]

MAX_PROMPTS = 1024


class TextPipeline(Pipeline):
    """A trained language model and its tokenizer, loaded from a model directory."""

    task = "text"

    def __init__(self, objective: Any, nets: dict, config: dict, tokenizer: TextTokenizer,
                 device: torch.device, model_id: str) -> None:
        super().__init__(objective, nets, config, device, model_id)
        self.tokenizer = tokenizer

    @classmethod
    def from_dir(cls, path: str | os.PathLike, *, device: torch.device) -> "TextPipeline":
        objective, nets, config = load_objective(path, device)
        tokenizer = TextTokenizer.from_file(path)
        if tokenizer.vocab_size > objective.config.vocab_size:
            raise BadInputError(f"{path}: tokenizer has {tokenizer.vocab_size} tokens but the model "
                                f"only {objective.config.vocab_size}; the directory is inconsistent")
        return cls(objective, nets, config, tokenizer, device, model_id(path))

    @property
    def context(self) -> int:
        return self.objective.config.context

    # ------------------------------------------------------------------ generation
    def generate(self, prompt: str | Sequence[str] = "", **params: Any) -> str | list[str]:
        """Continue ``prompt`` (or each of a list of prompts); returns the new text only.

        Keywords are :class:`~aigc.text.sampling.SamplingParams`: ``max_tokens``, ``temperature``
        (0 = greedy), ``top_k``, ``top_p``, ``repetition_penalty``, ``num_beams``, ``stop``,
        ``seed``, ``use_cache``.
        """
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        out = self._collect(prompts, self._params(params), chat=False)
        return out[0] if isinstance(prompt, str) else out

    def stream(self, prompt: str = "", **params: Any) -> Iterator[str]:
        """Yield the continuation of ``prompt`` piece by piece as it is generated (whole
        characters only; text that might begin a stop string is held back until it is not)."""
        for _, piece in self._pieces([prompt], self._params(params), chat=False):
            yield piece

    def chat(self, turns: Sequence[dict[str, str]], **params: Any) -> str:
        """The assistant's next turn after ``turns`` ([{"role": ..., "content": ...}, ...])."""
        out = self._collect([chat_prompt(turns)], self._chat_params(params), chat=True)
        return out[0].strip()

    def stream_chat(self, turns: Sequence[dict[str, str]], **params: Any) -> Iterator[str]:
        for _, piece in self._pieces([chat_prompt(turns)], self._chat_params(params), chat=True):
            yield piece

    # ------------------------------------------------------------------ internals
    def _params(self, params: dict[str, Any]) -> SamplingParams:
        try:
            return SamplingParams(**params)
        except TypeError as exc:
            raise BadInputError(f"unknown generation parameter: {exc}") from exc

    def _chat_params(self, params: dict[str, Any]) -> SamplingParams:
        """Role markers also stop a turn as text, for tokenizers without chat tokens (GPT-2)."""
        stop = params.get("stop", ())
        stop = (stop,) if isinstance(stop, str) else tuple(stop)
        return self._params({**params, "stop": stop + tuple(m for m in CHAT_TOKENS if m not in stop)})

    def _encode(self, prompt: str) -> list[int]:
        if not isinstance(prompt, str):
            raise BadInputError(f"prompts must be strings, got {type(prompt).__name__}")
        ids = self.tokenizer.encode(prompt)
        eos = self.tokenizer.eos_id
        # An empty prompt starts from the document separator, as GPT-2 does.
        return ids if ids else [eos if eos is not None else 0]

    def _collect(self, prompts: list[str], params: SamplingParams, chat: bool) -> list[str]:
        texts = [""] * len(prompts)
        for i, piece in self._pieces(prompts, params, chat):
            texts[i] += piece
        return texts

    @torch.inference_mode()  # not just no_grad: no view/version tracking per op (~10 % per token)
    def _pieces(self, prompts: list[str], params: SamplingParams, chat: bool) -> Iterator[tuple[int, str]]:
        """(row, new text) pairs in generation order."""
        if not 1 <= len(prompts) <= MAX_PROMPTS:
            raise BadInputError(f"give between 1 and {MAX_PROMPTS} prompts, got {len(prompts)}")
        rows = [self._encode(p) for p in prompts]
        stop_ids = self.tokenizer.stop_ids(chat=chat)
        if params.num_beams > 1:
            for i, row in enumerate(rows):
                ids = beam_search(self._decoder(params), row, params, stop_ids)
                yield i, _cut(self.tokenizer.decode(ids), params.stop)[0]
            return
        generator = make_generator(params.seed, self.device)
        sampler = TokenSampler(self._decoder(params), rows, params, generator, stop_ids)
        ids: list[list[int]] = [[] for _ in rows]
        sent, closed = [0] * len(rows), [False] * len(rows)
        for tokens, new in sampler:
            for i in new.nonzero().flatten().tolist():
                if closed[i]:
                    continue
                ids[i].append(int(tokens[i]))
                text, hit = _cut(self.tokenizer.decode(ids[i]), params.stop)
                if hit:
                    closed[i] = True
                    sampler.finish(i)
                safe = len(text) if hit else _safe_length(text, params.stop)
                if safe > sent[i]:
                    yield i, text[sent[i]:safe]
                    sent[i] = safe
        for i in range(len(rows)):  # flush what was held back
            text = _cut(self.tokenizer.decode(ids[i]), params.stop)[0]
            if len(text) > sent[i]:
                yield i, text[sent[i]:]

    def _decoder(self, params: SamplingParams) -> Any:
        return self.objective.decoder(self.nets, use_cache=params.use_cache)

    # ------------------------------------------------------------------ outputs
    def save(self, text: str, out: str | os.PathLike, **params: Any) -> tuple[Path, Path]:
        """Write ``text`` to ``out`` and its recipe to ``out + '.json'`` (both atomically)."""
        return save_text(out, text, self.recipe(**params))


def _cut(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[:min(hits)], True) if hits else (text, False)


def _safe_length(text: str, stops: Sequence[str]) -> int:
    """How much of ``text`` can be shown now: not a trailing partial UTF-8 character (decoded as
    U+FFFD) nor a tail that could still grow into a stop string."""
    end = len(text)
    while end and text[end - 1] == "\ufffd":
        end -= 1
    for stop in stops:
        for n in range(min(len(stop) - 1, end), 0, -1):
            if text[end - n:end] == stop[:n]:
                end -= n
                break
    return end
