"""Training stages of ``aigc compress``: fine-tuning a pruned model and distilling a student, both
through the task's own ``train()`` (the one Trainer, the task's objective and data pipeline) on the
data recorded in the model's config.json, with the ``transfer`` training extension doing the rest
(:mod:`aigc.tools.transfer.extension`)."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Any

from aigc.core.errors import BadInputError

__all__ = ["parse_student", "train_stage"]

# extensions of the original run that a compression stage does not repeat: transfer is replaced
# by the stage's own; DP-SGD would need its own privacy accounting
DROPPED_EXTENSIONS = ("transfer", "dp")


def parse_student(spec: str) -> dict[str, Any]:
    """``--distill-to``: a JSON file of model-config changes, or inline ``key=value,...``."""
    import json

    path = Path(spec)
    if spec.endswith(".json") or path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInputError(f"--distill-to {spec}: not a readable JSON file ({exc})") from None
        if not isinstance(data, dict):
            raise BadInputError(f"--distill-to {spec}: expected a JSON object of model settings")
        return data
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise BadInputError(f"--distill-to: {item!r} is not key=value; e.g. --distill-to layers=2,embed=64")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value.strip()
    if not out:
        raise BadInputError("--distill-to: give the student's model settings, e.g. layers=2,embed=64")
    return out


def _settings(config: dict[str, Any], task: Any, data: str | None) -> Any:
    from aigc.core.config import config_from_dict
    from aigc.core.registry import resolve

    if "settings" not in config or "train" not in config:
        raise BadInputError("this model's config.json has no stored training settings (written by an older "
                            "aigc or imported): it cannot be fine-tuned or distilled here")
    settings = config_from_dict(resolve(task.settings), config["settings"])
    if data is not None:
        if not any(f.name == "data" for f in dataclasses.fields(settings)):
            raise BadInputError(f"--finetune-data: {task.name} settings have no data field")
        settings = dataclasses.replace(settings, data=data)
    return settings


def train_stage(model: Path, out: Path, *, steps: int, transfer: dict[str, Any], lr: float | None = None,
                data: str | None = None) -> dict[str, Any]:
    """Train ``steps`` steps into ``out`` with the settings and data of ``model``'s config.json and
    the ``transfer`` extension options; returns the summary plus first/last training loss."""
    from aigc.core.modeldir import read_config
    from aigc.core.registry import resolve
    from aigc.core.registry import task as registered
    from aigc.train.config import TrainConfig
    from aigc.train.trainer import read_metrics

    config = read_config(model)
    task = registered(config["task"])
    settings = _settings(config, task, data)
    stored = TrainConfig(**config["train"])
    extensions = {k: v for k, v in stored.extensions.items() if k not in DROPPED_EXTENSIONS}
    train_config = stored.replace(
        steps=steps, lr=lr if lr is not None else stored.lr, warmup_steps=0, schedule="constant",
        ema_decay=None, checkpoint_every=steps, sample_every=0, log_every=1, time_limit_s=None,
        progress=sys.stderr.isatty(), extensions={**extensions, "transfer": transfer})
    try:  # the task's one-line training report goes to stderr: stdout may carry --json
        with contextlib.redirect_stdout(sys.stderr):
            summary = resolve(task.train)(settings, train_config, out)
    except BadInputError as exc:
        if str(exc).startswith("--"):  # a flag of this command was wrong (e.g. --distill-to), not the data
            raise
        source = getattr(settings, "data", None)
        raise BadInputError(f"training on {model}'s recorded data ({source!r}) failed: {exc}; give "
                            "--finetune-data to train on other data") from None
    losses = [row["loss"] for row in read_metrics(out) if "loss" in row]
    return {"steps": int(summary.get("steps_run", steps)), "lr": train_config.lr,
            "data": str(getattr(settings, "data", "")), "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            **({"val_loss": summary["val_loss"]} if "val_loss" in summary else {})}
