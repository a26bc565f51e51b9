"""``compress``: distil, prune (unstructured or structured, with fine-tuning) and quantise a model
directory's inference weights; measure size, latency and quality before and after; refuse
(``--max-quality-loss``) or write the new model directory.

Order of work: distil into the student (``distill_to``), prune, fine-tune (``finetune_steps``),
quantise. Training stages run the task's own ``train()`` on the data its config.json records
(:mod:`aigc.tools.compress.stages`); everything happens in a hidden folder next to ``out`` that is
renamed into place only when the gate passes.
"""

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
STRUCTURED_HOOK = "aigc.tools.compress.structured:LOAD_HOOK"
INT8_HOOK = "aigc.tools.compress.quantize:LOAD_HOOK"


def quality_metric(task: str) -> tuple[Callable[..., float], str] | None:
    """(``fn(pipeline, data) -> float``, figure name) from the task's ``Task.quality``, or None."""
    from aigc.core.registry import task as registered
    from aigc.tools.compress.quality import resolve_quality

    target = registered(task).quality
    return None if target is None else resolve_quality(target)


def _with_quality() -> str:
    from aigc.core.registry import tasks

    return ", ".join(t.name for t in tasks() if t.quality)


def _measure(model: str | Path, data: str | None, metric: tuple[Callable, str] | None,
             latency_runs: int = 0, latency_batch: int = 16) -> dict[str, Any]:
    import aigc
    from aigc.tools.compress.latency import latency_ms

    out: dict[str, Any] = {"size_bytes": (Path(model) / "model.safetensors").stat().st_size}
    want_quality = metric is not None and data is not None
    if not (want_quality or latency_runs):
        return out
    pipe = aigc.load(str(model), device="cpu")
    out["parameters"] = int(sum(p.numel() for net in pipe.nets.values() for p in net.parameters()))
    if want_quality:
        fn, key = metric
        start = time.perf_counter()
        result = fn(pipe, data)
        out.update({"metric": key, "quality": float(result), "eval_seconds": time.perf_counter() - start})
    if latency_runs:
        out.update(latency_ms(pipe.objective, pipe.nets, batches=(1, latency_batch), runs=latency_runs))
    return out


def _check_args(model: Path, out: Path, quantize: str | None, prune: float | None, structured: bool,
                finetune_steps: int, distill_to: Any) -> None:
    if quantize is None and not prune and distill_to is None:
        raise BadInputError("nothing to do: give --quantize int8|fp16|bf16, --prune FRACTION and/or --distill-to")
    if quantize is not None and quantize not in MODES:
        raise BadInputError(f"--quantize must be one of {', '.join(MODES)}, got {quantize!r}")
    if prune is not None and not 0 < prune < 1:
        raise BadInputError(f"--prune must be a fraction between 0 and 1, got {prune}")
    if structured and not prune:
        raise BadInputError("--structured needs --prune FRACTION (the share of units to remove), e.g. --prune 0.5")
    if finetune_steps < 0:
        raise BadInputError(f"--finetune-steps must be >= 0, got {finetune_steps}")
    if finetune_steps and not prune and distill_to is None:
        raise BadInputError("--finetune-steps fine-tunes a pruned model: add --prune FRACTION")
    if out.exists():
        raise BadInputError(f"--out {out} already exists; choose a new folder")


def _prune(model: Path, objective: Any, nets: dict, prune: float, structured: bool, norm: float) -> dict[str, Any]:
    """Prune ``nets`` in place; the record for config.json."""
    from aigc.tools.compress.latency import example_inputs
    from aigc.tools.compress.quantize import prune_magnitude

    if not structured:
        return {"sparsity": {n: prune_magnitude(net, prune) for n, net in nets.items()}}
    from aigc.tools.compress.structured import prune_structured

    inputs = example_inputs(objective, nets)
    if not inputs:
        raise BadInputError(f"{model}: --structured needs the objective's example inputs (ExampleInputs) to find "
                            "and verify prunable layers, and this architecture has none; use --prune without --structured")
    record = {n: prune_structured(nets[n], x, prune, n=norm) for n, x in inputs.items()}
    if not any(r["pairs"] for r in record.values()):
        raise BadInputError(f"{model}: no layer pair whose units can be removed (Linear/Conv -> activation -> "
                            "Linear/Conv); use --prune without --structured")
    return {"structured": record, "norm": norm}


def _stage_dir(tmp: Path, name: str, source: Path, nets: dict, record: dict, origin: Path) -> Path:
    """A loadable model directory of ``nets`` (a training stage starts from it)."""
    stage = tmp / name
    stage.mkdir()
    _write(source, stage, _tensors(nets), record, origin)
    return stage


def _tensors(nets: dict) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}


def _quantize(nets: dict, quantize: str | None, model: Path, record: dict) -> dict[str, torch.Tensor]:
    from aigc.tools.compress.quantize import quantize_int8

    if quantize == "int8":
        record["int8_layers"] = {n: quantize_int8(net) for n, net in nets.items()}
        if not any(record["int8_layers"].values()):
            raise BadInputError(f"{model}: no Linear layer to quantise to int8; try --quantize fp16")
    tensors = _tensors(nets)
    if quantize in ("fp16", "bf16"):
        dtype = torch.float16 if quantize == "fp16" else torch.bfloat16
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    return tensors


def _write(source: Path, tmp: Path, tensors: dict, record: dict, origin: Path) -> None:
    """``tmp`` as a model directory: ``source``'s files and config.json, the new weights, the record
    (which names ``origin``, the model directory given to ``compress``)."""
    from aigc.core.atomic import atomic_write_json
    from aigc.core.modeldir import CONFIG_NAME, WEIGHTS_NAME, read_config, save_weights

    config = read_config(source)
    if "student" in record:
        config["model"] = record["student"]["model"]
    extensions = dict(config.get("extensions") or {})
    extensions.pop("transfer", None)  # LoRA was merged into the weights; stages are recorded below
    config = {**config, "extensions": extensions} if extensions else {k: v for k, v in config.items()
                                                                      if k != "extensions"}
    config["compression"] = {**record, "source": str(origin)}
    hooks = ([STRUCTURED_HOOK] if record.get("structured") else []) + ([INT8_HOOK] if record.get("int8_layers") else [])
    if hooks:
        config["load_hooks"] = hooks
    for f in source.iterdir():  # tokenizer.json and other top-level files the Pipeline reads
        if f.is_file() and f.name not in (CONFIG_NAME, WEIGHTS_NAME) and not f.name.startswith("."):
            shutil.copy2(f, tmp / f.name)
    save_weights(tmp / WEIGHTS_NAME, tensors, metadata={"compressed": record.get("quantize") or "pruned"})
    atomic_write_json(tmp / CONFIG_NAME, config)


def _compressed(model: Path, tmp: Path, opts: dict[str, Any], measure: Callable[[Path], dict]) -> tuple[dict, dict]:
    """(tensors, compression record): every stage run on ``model`` inside ``tmp``; the record's
    ``source_dir`` is the directory whose config.json the result starts from."""
    from aigc.core.modeldir import read_config
    from aigc.core.pipeline import load_objective
    from aigc.tools.compress.stages import train_stage

    if read_config(model).get("load_hooks") or read_config(model).get("compression"):
        raise BadInputError(f"{model} is already compressed; compress the original model directory")
    record: dict[str, Any] = {"quantize": opts["quantize"], "prune": opts["prune"]}
    source, distill = model, None
    if opts["distill_to"] is not None:
        source = tmp / "student"
        distill = {"teacher": str(model), "student": opts["distill_to"], "kind": opts["distill_loss"],
                   "alpha": opts["distill_alpha"]}
        info = train_stage(model, source, steps=opts["distill_steps"], lr=opts["finetune_lr"], data=opts["data"],
                           transfer={"distill": distill})
        stored = read_config(source)
        record["student"] = {"changes": opts["distill_to"], "model": stored["model"], **info,
                             **stored["extensions"]["transfer"]["distill"]}
    objective, nets, _ = load_objective(source, torch.device("cpu"))
    if opts["prune"]:
        record.update(_prune(model, objective, nets, opts["prune"], opts["structured"], opts["norm"]))
    if opts["prune"] and opts["finetune_steps"]:
        pruned = _stage_dir(tmp, "pruned", source, nets, record, model)
        record["finetune"] = {"before": measure(pruned)}
        transfer = {"init_from": str(pruned), **({} if opts["structured"] else {"keep_zeros": True}),
                    **({"distill": distill} if distill else {})}  # a student goes on learning from its teacher
        record["finetune"].update(train_stage(model, tmp / "finetuned", steps=opts["finetune_steps"],
                                              lr=opts["finetune_lr"], data=opts["data"], transfer=transfer))
        objective, nets, _ = load_objective(tmp / "finetuned", torch.device("cpu"))
    tensors = _quantize(nets, opts["quantize"], model, record)
    record["source_dir"] = source
    return tensors, record


def compress(model: str | os.PathLike, out: str | os.PathLike, *, quantize: str | None = None,
             prune: float | None = None, structured: bool = False, norm: float = 2,
             finetune_steps: int = 0, finetune_lr: float | None = None, finetune_data: str | None = None,
             distill_to: str | dict[str, Any] | None = None, distill_loss: str | None = None,
             distill_alpha: float = 0.5,
             max_quality_loss: float | None = None, eval_data: str | None = None,
             latency_runs: int = 0, latency_batch: int = 16) -> dict[str, Any]:
    """Write the compressed model to ``out``; returns ``{"before", "after", "quality_loss", ...}``.

    ``prune`` with ``structured`` removes that share of whole units/channels (L_``norm`` ranking,
    :mod:`aigc.tools.compress.structured`); ``finetune_steps`` then trains the pruned model on its
    recorded data (``finetune_data`` replaces it). ``distill_to`` (model-config changes, a dict or
    ``"key=value,..."`` / a JSON file) trains that student towards this model (``finetune_steps``
    steps, default the teacher's; ``distill_alpha`` weighs the distillation loss against the task's). ``latency_runs`` > 0 times the inference networks (median ms at
    batch 1 and ``latency_batch``). ``max_quality_loss`` (a fraction: 0.01 = 1 %) refuses to write a
    model whose task metric got worse by more than that; it needs ``eval_data`` and ``Task.quality``.
    """
    from aigc.core.modeldir import read_config
    from aigc.tools.compress.stages import parse_student

    model, out = Path(model), Path(out)
    config = read_config(model)
    _check_args(model, out, quantize, prune, structured, finetune_steps, distill_to)
    metric = quality_metric(config["task"])
    if max_quality_loss is not None and (metric is None or eval_data is None):
        raise BadInputError(f"--max-quality-loss needs --eval-data FILE and a task with a quality metric "
                            f"(now: {_with_quality()}); {config['task']!r} "
                            + ("has none" if metric is None else "given no data"))
    student = parse_student(distill_to) if isinstance(distill_to, str) else distill_to
    opts = {"quantize": quantize, "prune": prune, "structured": structured, "norm": norm, "data": finetune_data,
            "finetune_steps": finetune_steps, "finetune_lr": finetune_lr, "distill_to": student,
            "distill_loss": distill_loss, "distill_alpha": distill_alpha,
            "distill_steps": finetune_steps or int((config.get("train") or {}).get("steps", 1000))}

    def measure(path: Path) -> dict[str, Any]:
        return _measure(path, eval_data, metric, latency_runs, latency_batch)

    before = measure(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tensors, record = _compressed(model, tmp, opts, measure)
        final = tmp / "model"
        final.mkdir()
        _write(record.pop("source_dir"), final, tensors, record, model)
        after = measure(final)
        loss = (after["quality"] - before["quality"]) / before["quality"] if "quality" in before else None
        if max_quality_loss is not None and loss is not None and loss > max_quality_loss:
            raise BadInputError(f"refused: {before['metric']} {before['quality']:.4g} -> {after['quality']:.4g} "
                                f"(+{100 * loss:.2f} %) exceeds --max-quality-loss {100 * max_quality_loss:g} %; "
                                f"nothing written to {out}")
        _record_result(final, before, after, loss)
        os.replace(final, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"model": str(model), "out": str(out), "before": before, "after": after, "quality_loss": loss,
            "size_ratio": before["size_bytes"] / after["size_bytes"], **record}


def _record_result(final: Path, before: dict, after: dict, loss: float | None) -> None:
    from aigc.core.atomic import atomic_write_json
    from aigc.core.modeldir import CONFIG_NAME, read_config

    config = read_config(final)
    config["compression"].update({"before": before, "after": after, "quality_loss": loss})
    atomic_write_json(final / CONFIG_NAME, config)
