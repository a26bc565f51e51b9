"""Loading a model directory into its task's Pipeline (the one code path of CLI, API and server)."""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from aigc.core.config import config_from_dict
from aigc.core.device import select_device
from aigc.core.errors import BadInputError
from aigc.core.modeldir import (
    WEIGHTS_NAME,
    load_weights,
    model_id,
    read_config,
    split_prefix,
    weights_metadata,
)
from aigc.core.registry import TASKS, architecture, resolve, task

__all__ = ["Pipeline", "load_pipeline", "load_objective", "providing"]

# who hands out loaded Pipelines in this context: the studio keeps models loaded (and batches
# concurrent requests) while the tasks' own command code still calls aigc.load — one code path
_provider: contextvars.ContextVar[Callable[[Any, Any], Any] | None] = contextvars.ContextVar(
    "aigc_pipeline_provider", default=None)


@contextlib.contextmanager
def providing(provider: Callable[[Any, Any], Any] | None) -> Iterator[None]:
    """Inside this block ``aigc.load(path, device=...)`` first asks ``provider(path, device)``; a
    Pipeline it returns is used as is, None falls back to loading from disk."""
    token = _provider.set(provider)
    try:
        yield
    finally:
        _provider.reset(token)


def load_objective(path: str | os.PathLike, device: torch.device, *, prefer_ema: bool = True) -> tuple[Any, dict, dict]:
    """Rebuild the objective of a model directory and load its weights strictly.

    Returns ``(objective, networks for inference, config.json)``; networks are in eval mode on
    ``device`` and use EMA weights where the directory holds them (``prefer_ema``).
    """
    path = Path(path)
    config = read_config(path)
    cls = architecture(config["task"], config["architecture"])
    model_cfg = config_from_dict(cls.config_class, config.get("model", {}))
    objective = cls(model_cfg)
    weights = load_weights(path / WEIGHTS_NAME)
    hooks = load_hooks(config)  # issue 19: LoRA / int8 directories rebuild their layers first
    for hook in hooks:
        hook.before_load(objective.networks(), config)
    nets = {}
    for name, net in objective.networks().items():
        ema = split_prefix(weights, f"ema.{name}")
        state = ema if (prefer_ema and ema) else split_prefix(weights, name)
        if not state:
            raise BadInputError(f"{path / WEIGHTS_NAME} has no weights for network {name!r}")
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BadInputError(f"{path / WEIGHTS_NAME}: weights do not fit {name!r} ({exc})") from exc
        nets[name] = net.to(device).eval()
    for hook in hooks:
        nets = hook.after_load(nets, config)
    return objective, nets, config


def load_hooks(config: dict) -> list[Any]:
    """Objects with ``before_load(networks, config)`` (rebuild layers so the stored weights load
    strictly) and ``after_load(nets, config) -> nets``, named ``"module:attr"`` by config.json under
    ``"load_hooks"`` (written by ``aigc compress``) or ``"extensions": {name: {"load_hook": ...}}``
    (written by a training extension such as LoRA). Issue 19."""
    targets = list(config.get("load_hooks") or [])
    targets += [ext["load_hook"] for ext in (config.get("extensions") or {}).values()
                if isinstance(ext, dict) and ext.get("load_hook")]
    bad = [t for t in targets if not (isinstance(t, str) and t.startswith("aigc."))]
    if bad:  # config.json may come from anywhere: only aigc's own hooks are imported
        raise BadInputError(f"config.json names load hooks outside aigc: {bad}; refusing to import them")
    return [resolve(t) for t in targets]


class Pipeline:
    """Base of every task's Pipeline: the objective, its inference networks and the model's id.

    Subclasses add the task's methods (``generate``, ``upscale``, ...) and set ``task``.
    """

    task = ""
    source: str | None = None  # the model directory as the caller named it (for replay records)
    # ``generate`` options that take one value per output (e.g. class ``labels``): a server batching
    # requests may pass one value per row instead of the one each request gave (aigc.serve.batching)
    row_options: tuple[str, ...] = ()

    def __init__(self, objective: Any, nets: dict, config: dict, device: torch.device, model_id: str) -> None:
        self.objective, self.nets, self.config = objective, nets, config
        self.device, self.model_id = device, model_id

    @classmethod
    def from_dir(cls, path: str | os.PathLike, *, device: torch.device) -> "Pipeline":
        objective, nets, config = load_objective(path, device)
        pipe = cls(objective, nets, config, device, model_id(path))
        pipe.source = str(path)
        return pipe

    @property
    def architecture(self) -> str:
        return self.config["architecture"]

    def recipe(self, **params: Any) -> dict[str, Any]:
        """Metadata stored with every output: model id, task, architecture and the call's parameters
        (plus, under the ``aigc`` command line, the command that ``aigc replay`` reruns)."""
        from aigc.core.recipe import replay_info

        recipe = {"model_id": self.model_id, "task": self.task, "architecture": self.architecture, **params}
        info = replay_info(self.source)
        return {**recipe, "replay": info} if info is not None else recipe


def load_pipeline(path: str | os.PathLike, *, device: str = "auto") -> Any:
    """``aigc.load``: read config.json, pick the task's Pipeline from the registry, load it."""
    provider = _provider.get()
    if provider is not None and (pipe := provider(path, device)) is not None:
        return pipe
    config = read_config(path)
    name = config["task"]
    if name not in TASKS:
        raise BadInputError(f"{path}: unknown task {name!r}; known tasks: {sorted(TASKS)}")
    return resolve(task(name).pipeline).from_dir(path, device=select_device(device))


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """What ``aigc info`` prints: config plus model id, size and training progress."""
    path = Path(path)
    config = read_config(path)
    info: dict[str, Any] = {"path": str(path), "model_id": model_id(path), **config}
    weights_file = path / WEIGHTS_NAME
    if weights_file.is_file():
        weights = load_weights(weights_file)
        info["parameters"] = {
            prefix: int(sum(v.numel() for k, v in weights.items() if k.split(".")[0] == prefix))
            for prefix in sorted({k.split(".")[0] for k in weights}) if prefix != "ema"}
        info["step"] = int(weights_metadata(weights_file).get("step", 0))
    return info
