"""Mode-collapse diagnostics logged with the losses: the class histogram of generated samples, as
labelled by a domain classifier from ``aigc.metrics`` (e.g. the ``mnist`` feature CNN).

An objective mixes in :class:`ClassHistogramProbe` and has ``diag_features``, ``diag_every`` and
``diag_samples`` in its config; the Trainer calls ``diagnostics(nets, generator, step)`` at log
time. Without a classifier for the data (none trained, or unlabelled data) the probe is skipped
with one warning.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.train.objective import NetworksObjective

__all__ = ["ClassHistogramProbe"]


class ClassHistogramProbe(NetworksObjective):
    """Mixin: ``diagnostics`` samples ``diag_samples`` images and summarises their predicted classes.

    Logged keys: ``diag_classes`` (classes with >= 1 sample), ``diag_class_kl`` (KL(histogram ||
    uniform), nats), ``diag_p{k}`` (share of class k) and, for class-conditional models,
    ``diag_cond_acc`` (share classified as the requested class).
    """

    config: Any
    _diag_extractor: Any = None
    _diag_failed: bool = False

    def _diag_classifier(self) -> Any:
        if self._diag_extractor is None and not self._diag_failed:
            from aigc.metrics import load_feature_extractor

            try:
                extractor = load_feature_extractor(self.config.diag_features)
                if not extractor.has_classifier:
                    raise BadInputError(f"features {self.config.diag_features!r} have no classifier")
                self._diag_extractor = extractor
            except BadInputError as exc:
                self._diag_failed = True
                warnings.warn(f"class-histogram diagnostics skipped: {exc}", stacklevel=2)
        return self._diag_extractor

    def _diag_sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int,
                     labels: torch.Tensor | None) -> torch.Tensor:
        return self.sample(nets, generator, n=n, labels=labels)  # type: ignore[attr-defined]

    @torch.no_grad()
    def diagnostics(self, nets: Mapping[str, nn.Module], generator: torch.Generator, step: int) -> dict[str, float]:
        """Class histogram of fresh samples at every ``diag_every``-th step; {} otherwise."""
        cfg = self.config
        if not (cfg.diag_features and cfg.diag_every and step % cfg.diag_every == 0):
            return {}
        extractor = self._diag_classifier()
        if extractor is None:
            return {}
        from aigc.metrics import class_coverage, conditional_accuracy

        k = int(getattr(cfg, "num_classes", 0))
        device = next(next(iter(nets.values())).parameters()).device
        requested = torch.arange(cfg.diag_samples, device=device) % k if k else None
        images = self._diag_sample(nets, generator, cfg.diag_samples, requested)
        probs = extractor.probs(images.cpu())
        cov = class_coverage(probs, probs.shape[1])
        n = max(1, sum(cov["histogram"]))
        out = {"diag_classes": float(cov["modes_covered"]), "diag_class_kl": cov["kl_to_uniform"]}
        out.update({f"diag_p{i}": c / n for i, c in enumerate(cov["histogram"])})
        if requested is not None:
            out["diag_cond_acc"] = conditional_accuracy(probs, requested.cpu())
        return out
