"""Run a loaded Pipeline's networks in onnxruntime: ``use_onnx(pipe, "model.onnx")``.

A Pipeline-level swap: each network named in the export's sidecar JSON is replaced in
``pipe.nets`` by an ``nn.Module`` that feeds its tensors to an onnxruntime session, so the Pipeline,
its sampler and the CLI run unchanged (no task is imported or named here). Calls the graph cannot
take (an input left ``None``, a keyword it does not know) run the original PyTorch network and are
counted in ``fallback_calls``. A KV-cached network keeps using the caller's
:class:`~aigc.nn.transformer.KVCache`: the wrapper reads the filled part, runs one graph, and
writes the present keys/values back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["OrtCachedNetwork", "OrtNetwork", "load", "use_onnx"]


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # as many threads as torch uses, so eager and ORT timings compare like with like
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OrtNetwork(nn.Module):
    """``forward(*tensors)`` through an onnxruntime session; same outputs as ``original``."""

    def __init__(self, path: str | os.PathLike, original: nn.Module, *, threads: int | None = None) -> None:
        super().__init__()
        self.session = _session(Path(path), threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        # the fallback for calls the graph cannot take; kept out of the module tree, so that
        # parameters() yields only the anchor (samplers read the device from it)
        self.__dict__["original"] = original
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)  # device for next(parameters())
        if hasattr(original, "config"):
            self.config = original.config  # what samplers read (context length, ...)
        self.fallback_calls = 0

    def run(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feeds = {n: a.detach().cpu().contiguous().numpy() for n, a in zip(self.input_names, args)}
        return tuple(torch.from_numpy(o).to(args[0].device) for o in self.session.run(None, feeds))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != len(self.input_names) or any(a is None for a in args):
            self.fallback_calls += 1
            return self.original(*args, **kwargs)
        out = self.run(*args)
        return out[0] if len(out) == 1 else out


class OrtCachedNetwork(OrtNetwork):
    """A KV-cached language model: ``forward(tokens (B, T), *, cache, positions, key_valid,
    last_only) -> logits (B, T or 1, V)``, the calling convention of :class:`aigc.text.gpt.GPT`."""

    def forward(self, tokens: torch.Tensor, *, cache: Any = None, positions: torch.Tensor | None = None,
                key_valid: torch.Tensor | None = None, last_only: bool = False) -> torch.Tensor:
        b, t = tokens.shape
        past = cache.length if cache is not None else 0
        if positions is None:
            positions = torch.arange(past, past + t, device=tokens.device).expand(b, t)
        if key_valid is None:
            key_valid = torch.ones(b, past + t, dtype=torch.bool, device=tokens.device)
        if cache is not None and past:
            past_k = torch.stack([k[:, :, :past] for k in cache.k])
            past_v = torch.stack([v[:, :, :past] for v in cache.v])
        else:
            h, d = self.config.heads, self.config.embed // self.config.heads
            past_k = past_v = torch.zeros(self.config.layers, b, h, 0, d)
        logits, present_k, present_v = self.run(tokens, positions, key_valid, past_k, past_v)
        if cache is not None:
            for layer in range(present_k.shape[0]):
                cache.k[layer][:, :, :past + t] = present_k[layer]
                cache.v[layer][:, :, :past + t] = present_v[layer]
            cache.length = past + t
        return logits[:, -1:] if last_only else logits


def _read_sidecar(onnx_file: Path) -> dict[str, Any]:
    from aigc.tools.export.onnx import sidecar_path

    side = sidecar_path(onnx_file)
    if not side.is_file():
        raise BadInputError(f"{side} not found: give the .onnx file that `aigc export` wrote "
                            "(its .json sits next to it)")
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{side}: not valid JSON ({exc})") from exc


def use_onnx(pipe: Any, onnx_file: str | os.PathLike, *, threads: int | None = None) -> Any:
    """Swap the exported networks of ``pipe`` (an ``aigc.load`` Pipeline) for onnxruntime ones;
    returns ``pipe``. The export must come from the same model (same model id)."""
    onnx_file = Path(onnx_file)
    record = _read_sidecar(onnx_file)
    if record.get("model_id") != pipe.model_id:
        raise BadInputError(f"{onnx_file} was exported from model {record.get('model_id')}, not from this one "
                            f"({pipe.model_id}); export this model with `aigc export`")
    if pipe.device.type != "cpu":
        raise BadInputError("--runtime onnx runs on the CPU; add --device cpu")
    for name, info in record["networks"].items():
        if name not in pipe.nets:
            raise BadInputError(f"{onnx_file}: network {name!r} is not in this model")
        path = onnx_file.parent / info["file"]
        if not path.is_file():
            raise BadInputError(f"{path} not found (named by {onnx_file}.json)")
        cls = OrtCachedNetwork if info.get("cached") else OrtNetwork
        pipe.nets[name] = cls(path, pipe.nets[name], threads=threads)
    pipe.runtime = {"name": "onnx", "file": str(onnx_file)}
    return pipe


def load(model: str | os.PathLike, onnx_file: str | os.PathLike, *, threads: int | None = None) -> Any:
    """``aigc.load(model, device="cpu")`` with its exported networks run by onnxruntime."""
    import aigc

    return use_onnx(aigc.load(str(model), device="cpu"), onnx_file, threads=threads)
