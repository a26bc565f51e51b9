"""The classifier Pipeline: class probabilities for images, files or a labelled image source."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from aigc.core.artifacts import save_json
from aigc.core.errors import BadInputError
from aigc.core.pipeline import Pipeline

__all__ = ["ClassifyPipeline"]


class ClassifyPipeline(Pipeline):
    """Inference for ``classify`` models. Images are (N, C, S, S) floats in [0, 1]."""

    task = "classify"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        cfg = self.objective.config
        return (cfg.channels, cfg.image_size, cfg.image_size)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.objective.config.names()

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Convert (N, C, H, W) images in [0, 1] to the model's channels and size."""
        from aigc.data.transforms import resize, to_channels

        if images.ndim != 4:
            raise BadInputError(f"expected (N, C, H, W) images, got shape {tuple(images.shape)}")
        c, s, _ = self.image_shape
        images = to_channels(images.float(), c)
        return resize(images, s) if images.shape[-2:] != (s, s) else images

    def predict(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, K) class probabilities."""
        return self.objective.predict(self.nets, self.prepare(images), batch_size)

    def read_images(self, paths: Sequence[str | Path]) -> torch.Tensor:
        """Image files -> (N, C, S, S) at the model's size."""
        from aigc.data.folder import read_image

        mode = "L" if self.image_shape[0] == 1 else "RGB"
        tensors = []
        for p in paths:
            if not Path(p).is_file():
                raise BadInputError(f"{p}: image file not found")
            arr = torch.from_numpy(read_image(Path(p), mode).copy()).float() / 255.0
            tensors.append(self.prepare((arr.permute(2, 0, 1) if arr.ndim == 3 else arr[None])[None]))
        return torch.cat(tensors)

    def classify(self, paths: Sequence[str | Path], top: int = 3) -> list[dict[str, Any]]:
        """One ``{"file", "class", "confidence", "top"}`` per image file."""
        probs = self.predict(self.read_images(paths))
        names = self.class_names
        out = []
        for path, p in zip(paths, probs):
            values, idx = p.topk(min(top, len(names)))
            out.append({"file": str(path), "class": names[int(idx[0])], "confidence": float(values[0]),
                        "top": [{"class": names[int(i)], "p": float(v)} for v, i in zip(values, idx)]})
        return out

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
        """Accuracy, mean negative log-likelihood and per-class accuracy on labelled images."""
        probs = self.predict(images)
        labels = labels.long().cpu()
        pred = probs.argmax(1)
        nll = -probs.clamp_min(1e-12).log().gather(1, labels[:, None]).mean()
        per_class = {}
        for k, name in enumerate(self.class_names):
            mask = labels == k
            if mask.any():
                per_class[name] = float((pred[mask] == k).float().mean())
        return {"n": len(labels), "accuracy": float((pred == labels).float().mean()), "nll": float(nll),
                "per_class_accuracy": per_class}

    def save(self, results: Any, path: str | Path, **params: Any) -> Path:
        """Write predictions as JSON with the recipe embedded."""
        if Path(path).suffix.lower() != ".json":
            raise BadInputError(f"--out {path}: give a .json file")
        return save_json(path, {"predictions": results}, self.recipe(**params))
