"""What objectives share, and the optional capabilities the Trainer and Pipelines look for.

The required surface is :class:`aigc.train.trainer.Objective`. Optional capabilities are typed
Protocols checked with ``isinstance`` (not probed with ``getattr``/``hasattr``), so a reader sees
what a method must look like and a type checker can hold objectives to it.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["NetworksObjective", "SingleNetworkObjective", "Samples", "Diagnoses", "Inpaints", "Encodes", "InitFrom", "Classifies", "ExampleInputs",
           "ScoresLogits", "Restores", "FitsOnce", "INPUT_RANGE", "input_range"]


class NetworksObjective:
    """Base of objectives that keep their networks in ``self.nets`` and train each with its own
    optimizer of the network's name: Adam (``adam_betas``), or AdamW (decoupled weight decay,
    Loshchilov & Hutter 2019) when the objective's ``config`` has a ``weight_decay`` field.
    Override ``configure_optimizers`` for anything else (parameter groups, one optimizer over
    several networks)."""

    nets: dict[str, nn.Module]
    adam_betas: tuple[float, float] = (0.9, 0.999)

    def networks(self) -> dict[str, nn.Module]:
        return self.nets

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        decay = getattr(getattr(self, "config", None), "weight_decay", None)
        if decay is None:
            return {name: torch.optim.Adam(nets[name].parameters(), lr=lr, betas=self.adam_betas)
                    for name in self.nets}
        return {name: torch.optim.AdamW(nets[name].parameters(), lr=lr, betas=self.adam_betas, weight_decay=decay)
                for name in self.nets}


class SingleNetworkObjective(NetworksObjective):
    """One network, ``"model"``, built by ``network_class(config)`` and kept under EMA when asked
    (language models, video predictors): subclasses set ``config_class`` and ``network_class``."""

    config_class: type
    network_class: type
    ema_networks = ("model",)

    def __init__(self, config: Any) -> None:
        self.config = config
        self.nets: dict[str, nn.Module] = {"model": self.network_class(config)}


@runtime_checkable
class Samples(Protocol):
    """Draws outputs for previews and the Pipeline: ``sample(nets, generator, ...)``."""

    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, *args: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class FitsOnce(Protocol):
    """Fitted in one pass over the data (sufficient statistics, a closed form) instead of gradient
    steps: ``fit(nets, data, release)`` fills the networks' buffers from ``data`` and returns
    figures to report. Every statistic computed from the data goes through ``release.add`` (an
    :class:`aigc.train.release.StatisticsRelease`), which adds the Gaussian noise of DP when asked,
    each release taking its share ``privacy_shares()[name]`` of the budget. The task's ``train()``
    hands such objectives to :func:`aigc.train.run.run_fit`. With no training step to score
    examples, ``example_loss(nets, batch) -> (N,)`` gives the per-example loss (membership audits)."""

    def privacy_shares(self) -> dict[str, float]: ...

    def fit(self, nets: Mapping[str, nn.Module], data: Mapping[str, torch.Tensor], release: Any) -> dict[str, float]: ...

    def example_loss(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor]) -> torch.Tensor: ...


@runtime_checkable
class Diagnoses(Protocol):
    """Logs extra figures (e.g. the class histogram of samples) every ``log_every`` steps."""

    def diagnostics(self, nets: Mapping[str, nn.Module], generator: torch.Generator, step: int) -> dict[str, float]: ...


@runtime_checkable
class Inpaints(Protocol):
    """Fills the masked pixels of images (diffusion models)."""

    def inpaint(self, nets: Mapping[str, nn.Module], images: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator, **kwargs: Any) -> torch.Tensor: ...


@runtime_checkable
class Encodes(Protocol):
    """Maps data to latents and back (VAEs)."""

    def encode(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor: ...

    def decode(self, nets: Mapping[str, nn.Module], z: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class InitFrom(Protocol):
    """Starts from another model directory's weights (e.g. SRGAN from SRResNet)."""

    def init_from(self, path: str) -> None: ...


@runtime_checkable
class Classifies(Protocol):
    """A classifier: ``logits(nets, batch[input_key])`` scores the classes of ``batch[label_key]``.
    Tools (adversarial attacks and training, membership audits, attributions) find classifiers by it.
    Inputs lie in ``INPUT_RANGE`` (images in [0, 1]) unless the objective declares its own
    ``input_range = (low, high)`` (waves: (-1.0, 1.0)); attacks stay inside it."""

    input_key: str
    label_key: str

    def logits(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor: ...


INPUT_RANGE: tuple[float, float] = (0.0, 1.0)


def input_range(objective: object) -> tuple[float, float]:
    """The range a classifier's inputs lie in (see :class:`Classifies`)."""
    low, high = getattr(objective, "input_range", INPUT_RANGE)
    return float(low), float(high)


@runtime_checkable
class Restores(Protocol):
    """An image-to-image objective (denoise, super-resolution, style...):
    ``restore(nets, x (N, C, h, w) in [0, 1]) -> (N, C, H, W)``; ``kind`` names what it does. Tools
    (the restoration robustness table) find restoration models by it."""

    kind: str

    def restore(self, nets: Mapping[str, nn.Module], x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class ExampleInputs(Protocol):
    """Networks that export (``aigc export --format onnx``): ``example_inputs(name, batch)`` gives
    example positional inputs of inference network ``name`` (raise KeyError for a network that is
    not used at inference). A network whose forward takes a ``cache``
    (:class:`aigc.nn.transformer.KVCache`) is exported with its cache as tensors, so its tuple is
    ``(tokens (B, T), positions (B, T), key_valid (B, P+T) bool, past keys (L, B, H, P, D), past
    values (L, B, H, P, D))``."""

    def example_inputs(self, name: str, batch: int = 1) -> tuple[torch.Tensor, ...]: ...


@runtime_checkable
class ScoresLogits(Protocol):
    """Its networks output logits (classes, next tokens), as ``logits(...)`` returns them: knowledge
    distillation (``aigc compress --distill-to``) matches a student to a teacher by KL divergence of
    the softmax (Hinton et al. 2015) rather than by squared error. Language models and classifiers
    satisfy it through the ``logits`` method they already have."""

    def logits(self, *args: Any, **kwargs: Any) -> torch.Tensor: ...
