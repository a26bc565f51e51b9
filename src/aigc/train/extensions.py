"""Training extensions: what changes *how* any task trains (DP-SGD, adversarial training, LoRA and
freezing, augmentation) without the task knowing.

An extension is enabled by options stored in ``TrainConfig.extensions`` (``{name: {...}}``, JSON),
so a resumed run rebuilds it from config.json. ``EXTENSIONS`` names, per extension, a light module
object (no torch import at module level) with:

- ``add_args(group)`` — its flags on ``aigc train <any task>``;
- ``options(args) -> dict | None`` — its options from parsed flags (None: not enabled);
- ``build(options) -> TrainExtension``.

The Trainer calls the :class:`TrainExtension` hooks in registry order.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Mapping

from aigc.core.errors import BadInputError

if TYPE_CHECKING:
    from aigc.train.batcher import Batcher
    from aigc.train.trainer import StepContext, Trainer

__all__ = ["EXTENSIONS", "TrainExtension", "build_extensions", "add_extension_args", "extension_options"]

# name -> "module:attr" of the extension's CLI/factory object, imported when used
EXTENSIONS: dict[str, str] = {
    "transfer": "aigc.tools.transfer.extension:TRANSFER",
    "augment": "aigc.data.augment.extension:AUGMENT",
    "dp": "aigc.tools.privacy.dp_spec:SPEC",
    "adversarial": "aigc.tools.robust.adversarial_spec:SPEC",
}


class TrainExtension:
    """Base class: every hook is optional and does nothing by default."""

    name = ""

    def prepare(self, trainer: "Trainer") -> None:
        """After the networks are on the device, before DDP, EMA and optimizers see them: may
        replace modules in ``trainer.raw[name]``."""

    def after_optimizers(self, trainer: "Trainer") -> None:
        """May wrap ``trainer.optimizers[name]`` and ``trainer.nets[name]``."""

    def make_batcher(self, trainer: "Trainer", data: Mapping[str, Any]) -> "Batcher | None":
        """Another batch sampler (e.g. Poisson sampling), or None for the default."""
        return None

    def transform_batch(self, trainer: "Trainer", batch: dict[str, Any], ctx: "StepContext") -> dict[str, Any]:
        """The batch ``training_step`` sees (on the device)."""
        return batch

    def after_step(self, trainer: "Trainer", logs: dict[str, float]) -> str | None:
        """A reason to stop training cleanly (with a checkpoint), or None to go on."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """JSON state saved in every checkpoint, for exact resume."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def describe(self) -> dict[str, Any]:
        """What config.json records under ``"extensions"`` (rewritten at every checkpoint)."""
        return {}


def _spec(name: str) -> Any:
    from aigc.core.registry import resolve

    if name not in EXTENSIONS:
        raise BadInputError(f"unknown training extension {name!r}; known: {', '.join(sorted(EXTENSIONS)) or 'none'}")
    return resolve(EXTENSIONS[name])


def build_extensions(options: Mapping[str, Mapping[str, Any]]) -> list[TrainExtension]:
    """The extensions enabled in ``TrainConfig.extensions``, in registry order."""
    unknown = sorted(set(options) - set(EXTENSIONS))
    if unknown:
        raise BadInputError(f"unknown training extension(s) {unknown}; known: {sorted(EXTENSIONS)}")
    built = []
    for name in EXTENSIONS:
        if name in options:
            ext = _spec(name).build(dict(options[name]))
            ext.name = ext.name or name
            built.append(ext)
    return built


def add_extension_args(parser: argparse.ArgumentParser) -> None:
    """Every extension's flags, each in its own argument group."""
    for name in EXTENSIONS:
        spec = _spec(name)
        spec.add_args(parser.add_argument_group(getattr(spec, "title", f"{name} (any task)")))


def extension_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``{name: options}`` of the extensions the parsed flags enable."""
    out = {}
    for name in EXTENSIONS:
        opts = _spec(name).options(args)
        if opts is not None:
            out[name] = dict(opts)
    return out
