"""``export_onnx``: a model directory's inference networks -> ONNX files (+ a sidecar JSON).

Each network the objective gives example inputs for (:class:`aigc.train.objective.ExampleInputs`)
is traced with ``torch.onnx.export`` (the TorchScript exporter: it needs no extra package and keeps
every axis dynamic), then run once in onnxruntime on the same inputs: the largest difference from
PyTorch is recorded, and an export that disagrees is refused. A network that takes a KV cache
(:class:`aigc.nn.transformer.KVCache`) is exported with its cache as tensors — ``(tokens,
positions, key_valid, past_k, past_v) -> (logits, present_k, present_v)``, one graph for the prompt
(P = 0) and for every later token. ``model.onnx.json`` names the files, inputs, outputs, the opset
and the model id that :func:`aigc.tools.export.runtime.use_onnx` checks.
"""

from __future__ import annotations

import inspect
import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aigc.core.errors import BadInputError

__all__ = ["CACHED_INPUTS", "CACHED_OUTPUTS", "CachedView", "export_onnx", "sidecar_path"]

CACHED_INPUTS = ("tokens", "positions", "key_valid", "past_k", "past_v")
CACHED_OUTPUTS = ("logits", "present_k", "present_v")
MIN_OPSET = 17  # LayerNormalization is a single ONNX op from opset 17


def sidecar_path(onnx_file: str | os.PathLike) -> Path:
    return Path(f"{onnx_file}.json")


class _ConcatCache:
    """The :class:`~aigc.nn.transformer.KVCache` interface over past tensors (L, B, H, P, D): each
    layer's keys/values are the past ones with the new ones appended (traceable, any P)."""

    def __init__(self, past_k: torch.Tensor, past_v: torch.Tensor) -> None:
        self.past_k, self.past_v = past_k, past_v
        self.length = past_k.shape[3]
        self.k: list[torch.Tensor] = [past_k[0]] * past_k.shape[0]
        self.v: list[torch.Tensor] = [past_v[0]] * past_v.shape[0]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k[layer] = torch.cat([self.past_k[layer], k], dim=2)
        self.v[layer] = torch.cat([self.past_v[layer], v], dim=2)
        return self.k[layer], self.v[layer]


class CachedView(nn.Module):
    """A KV-cached network as a function of tensors only (what ONNX can hold)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, key_valid: torch.Tensor,
                past_k: torch.Tensor, past_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cache = _ConcatCache(past_k, past_v)
        logits = self.net(tokens, cache=cache, positions=positions, key_valid=key_valid)
        return logits, torch.stack(cache.k), torch.stack(cache.v)


def takes_cache(net: nn.Module) -> bool:
    return "cache" in inspect.signature(net.forward).parameters


def _names(view: nn.Module, args: tuple[torch.Tensor, ...], cached: bool) -> tuple[list[str], list[str]]:
    if cached:
        return list(CACHED_INPUTS), list(CACHED_OUTPUTS)
    with torch.no_grad():
        out = view(*args)
    n_out = len(out) if isinstance(out, (tuple, list)) else 1
    inputs = [f"input{i}" for i in range(len(args))]
    return inputs, ["output"] if n_out == 1 else [f"output{i}" for i in range(n_out)]


def _dynamic_axes(args: tuple[torch.Tensor, ...], inputs: list[str], outputs: list[str],
                  view: nn.Module) -> dict[str, dict[int, str]]:
    """Every axis of every input and output is dynamic (batch, size, sequence and cache length)."""
    with torch.no_grad():
        out = view(*args)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    axes = {name: {d: f"{name}_{d}" for d in range(a.dim())} for name, a in zip(inputs, args)}
    axes.update({name: {d: f"{name}_{d}" for d in range(o.dim())} for name, o in zip(outputs, outs)})
    return axes


def _export_one(net: nn.Module, args: tuple[torch.Tensor, ...], opset: int) -> tuple[bytes, dict[str, Any]]:
    cached = takes_cache(net)
    view = CachedView(net) if cached else net
    inputs, outputs = _names(view, args, cached)
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter warns that a newer one exists
        warnings.simplefilter("ignore")
        torch.onnx.export(view, args, buf, dynamo=False, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes=_dynamic_axes(args, inputs, outputs, view))
    return buf.getvalue(), {"inputs": inputs, "outputs": outputs, "cached": cached}


def check_onnx(data: bytes, view: nn.Module, args: tuple[torch.Tensor, ...]) -> float:
    """Largest |ONNX Runtime - PyTorch| over all outputs on ``args``."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
    with torch.no_grad():
        ref = view(*args)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    return max(float((torch.from_numpy(g) - r.float()).abs().max()) for g, r in zip(got, refs))


def _exportable(objective: Any, nets: dict[str, nn.Module], batch: int, where: Path) -> dict[str, tuple]:
    from aigc.train.objective import ExampleInputs

    if not isinstance(objective, ExampleInputs):
        raise BadInputError(f"{where}: {type(objective).__name__} has no ONNX export (its objective gives no "
                            "example inputs); exportable: text gpt, image-gen ddpm, restore sr and denoise models")
    chosen = {}
    for name, net in nets.items():
        try:
            chosen[name] = (net, objective.example_inputs(name, batch=batch))
        except KeyError:
            continue
    bad = [n for n, (net, _) in chosen.items() for m in net.modules() if "quantized" in type(m).__module__]
    if bad:
        raise BadInputError(f"{where}: network {bad[0]!r} holds torch.ao int8 layers, which ONNX export does not "
                            "take; export the original model directory (onnxruntime has its own int8)")
    return chosen


def export_onnx(model: str | os.PathLike, out: str | os.PathLike, *, opset: int = MIN_OPSET,
                tolerance: float = 1e-3) -> dict[str, Any]:
    """Write ``out`` (``out`` stem + ``.NET.onnx`` when several networks export) and ``out.json``.

    Returns the sidecar record. Refuses (nothing written) when onnxruntime's outputs differ from
    PyTorch's by more than ``tolerance`` (relative to the output scale) on the example inputs.
    """
    from aigc.core.atomic import atomic_write_bytes, atomic_write_json
    from aigc.core.modeldir import model_id
    from aigc.core.pipeline import load_objective

    model, out = Path(model), Path(out)
    if opset < MIN_OPSET:
        raise BadInputError(f"--opset must be >= {MIN_OPSET}, got {opset}")
    if out.suffix != ".onnx":
        raise BadInputError(f"--out {out}: give a file name ending in .onnx")
    objective, nets, config = load_objective(model, torch.device("cpu"))
    chosen = _exportable(objective, nets, 1, model)
    files: dict[str, bytes] = {}
    record: dict[str, Any] = {"format": "onnx", "opset": opset, "model_id": model_id(model), "source": str(model),
                              "task": config["task"], "architecture": config["architecture"], "networks": {}}
    for name, (net, args) in chosen.items():
        data, info = _export_one(net, args, opset)
        view = CachedView(net) if info["cached"] else net
        error = check_onnx(data, view, args)
        with torch.no_grad():
            ref = view(*args)
        scale = max(float(r.abs().max()) for r in (ref if isinstance(ref, tuple) else (ref,)))
        if error > tolerance * max(scale, 1.0):
            raise BadInputError(f"{model}: ONNX Runtime differs from PyTorch by {error:.3g} on network {name!r} "
                                f"(more than {tolerance:g} of the output scale); nothing written")
        fname = out.name if len(chosen) == 1 else f"{out.stem}.{name}.onnx"
        files[fname] = data
        record["networks"][name] = {"file": fname, **info, "max_abs_error": error}
    out.parent.mkdir(parents=True, exist_ok=True)
    for fname, data in files.items():
        atomic_write_bytes(out.parent / fname, data)
    atomic_write_json(sidecar_path(out), record)
    return record
