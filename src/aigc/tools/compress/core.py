"""``compress``: quantise / prune a model directory's inference weights, measure size and quality
before and after, refuse (``--max-quality-loss``) or write the new model directory."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aigc.core.errors import BadInputError

__all__ = ["compress", "quality_metric"]

MODES = ("int8", "fp16", "bf16")


def quality_metric(task: str) -> tuple[Callable[..., float], str] | None:
    """(``fn(pipeline, data) -> float``, figure name) from the task's ``Task.quality``, or None."""
    from aigc.core.registry import task as registered
    from aigc.tools.compress.quality import resolve_quality

    target = registered(task).quality
    return None if target is None else resolve_quality(target)


def _with_quality() -> str:
    from aigc.core.registry import tasks

    return ", ".join(t.name for t in tasks() if t.quality)


def _measure(model: str | Path, data: str | None, metric: tuple[Callable, str] | None) -> dict[str, Any]:
    import aigc

    out: dict[str, Any] = {"size_bytes": (Path(model) / "model.safetensors").stat().st_size}
    if metric is not None and data is not None:
        pipe = aigc.load(str(model), device="cpu")
        fn, key = metric
        start = time.perf_counter()
        result = fn(pipe, data)
        out.update({"metric": key, "quality": float(result), "eval_seconds": time.perf_counter() - start})
    return out


def _compressed_weights(model: Path, quantize: str | None, prune: float | None) -> tuple[dict, dict]:
    """(tensors, compression record) of the model's inference networks."""
    from aigc.core.pipeline import load_objective
    from aigc.tools.compress.quantize import prune_magnitude, quantize_int8

    _, nets, config = load_objective(model, torch.device("cpu"))
    if config.get("load_hooks") or config.get("compression"):
        raise BadInputError(f"{model} is already compressed; compress the original model directory")
    record: dict[str, Any] = {"quantize": quantize, "prune": prune}
    if prune:
        record["sparsity"] = {n: prune_magnitude(net, prune) for n, net in nets.items()}
    if quantize == "int8":
        record["int8_layers"] = {n: quantize_int8(net) for n, net in nets.items()}
        if not any(record["int8_layers"].values()):
            raise BadInputError(f"{model}: no Linear layer to quantise to int8; try --quantize fp16")
    tensors = {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}
    if quantize in ("fp16", "bf16"):
        dtype = torch.float16 if quantize == "fp16" else torch.bfloat16
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    return tensors, record


def _write(model: Path, tmp: Path, tensors: dict, record: dict) -> None:
    from aigc.core.atomic import atomic_write_json
    from aigc.core.modeldir import CONFIG_NAME, WEIGHTS_NAME, read_config, save_weights

    config = read_config(model)
    config["compression"] = {**record, "source": str(model)}
    if record.get("int8_layers"):
        config["load_hooks"] = ["aigc.tools.compress.quantize:LOAD_HOOK"]
    for f in model.iterdir():  # tokenizer.json and other top-level files the Pipeline reads
        if f.is_file() and f.name not in (CONFIG_NAME, WEIGHTS_NAME) and not f.name.startswith("."):
            shutil.copy2(f, tmp / f.name)
    save_weights(tmp / WEIGHTS_NAME, tensors, metadata={"compressed": record.get("quantize") or "pruned"})
    atomic_write_json(tmp / CONFIG_NAME, config)


def compress(model: str | os.PathLike, out: str | os.PathLike, *, quantize: str | None = None,
             prune: float | None = None, max_quality_loss: float | None = None,
             eval_data: str | None = None) -> dict[str, Any]:
    """Write the compressed model to ``out``; returns ``{"before", "after", "quality_loss", ...}``.

    ``max_quality_loss`` (a fraction: 0.01 = 1 %) refuses to write a model whose task metric got
    worse by more than that, relative to the original; it needs ``eval_data`` and a task with a
    quality metric (``Task.quality``).
    """
    from aigc.core.modeldir import read_config

    model, out = Path(model), Path(out)
    task = read_config(model)["task"]
    if quantize is None and not prune:
        raise BadInputError("nothing to do: give --quantize int8|fp16|bf16 and/or --prune FRACTION")
    if quantize is not None and quantize not in MODES:
        raise BadInputError(f"--quantize must be one of {', '.join(MODES)}, got {quantize!r}")
    if prune is not None and not 0 < prune < 1:
        raise BadInputError(f"--prune must be a fraction between 0 and 1, got {prune}")
    if out.exists():
        raise BadInputError(f"--out {out} already exists; choose a new folder")
    metric = quality_metric(task)
    if max_quality_loss is not None and (metric is None or eval_data is None):
        raise BadInputError(f"--max-quality-loss needs --eval-data FILE and a task with a quality metric "
                            f"(now: {_with_quality()}); {task!r} " + ("has none" if metric is None else "given no data"))
    before = _measure(model, eval_data, metric)
    tensors, record = _compressed_weights(model, quantize, prune)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write(model, tmp, tensors, record)
        after = _measure(tmp, eval_data, metric)
        loss = (after["quality"] - before["quality"]) / before["quality"] if "quality" in before else None
        if max_quality_loss is not None and loss is not None and loss > max_quality_loss:
            raise BadInputError(f"refused: {before['metric']} {before['quality']:.4g} -> {after['quality']:.4g} "
                                f"(+{100 * loss:.2f} %) exceeds --max-quality-loss {100 * max_quality_loss:g} %; "
                                f"nothing written to {out}")
        _record_result(tmp, before, after, loss)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return {"model": str(model), "out": str(out), "before": before, "after": after, "quality_loss": loss,
            "size_ratio": before["size_bytes"] / after["size_bytes"], **record}


def _record_result(tmp: Path, before: dict, after: dict, loss: float | None) -> None:
    from aigc.core.atomic import atomic_write_json
    from aigc.core.modeldir import CONFIG_NAME, read_config

    config = read_config(tmp)
    config["compression"].update({"before": before, "after": after, "quality_loss": loss})
    atomic_write_json(tmp / CONFIG_NAME, config)
