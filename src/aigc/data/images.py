"""Built-in image sources: ``digits``, ``faces``, ``mnist``, ``fashion-mnist``, ``folder:PATH``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from aigc.core.errors import BadInputError
from aigc.core.paths import cache_dir, data_dir, missing_dataset
from aigc.core.registry import resolve
from aigc.data.download import download
from aigc.data.idx import read_idx
from aigc.data.transforms import resize, to_channels

__all__ = ["ImageSet", "load_image_source", "IMAGE_SOURCES", "IDX_DATASETS", "fetch_idx_dataset", "split_slice"]

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FASHION_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                 "bag", "ankle-boot"]
SPLITS = ("train", "test", "all")


@dataclass
class ImageSet:
    """Images (N, C, H, W) float32 in [0, 1], optional int64 labels (N,) and class names."""

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: list[str] | None
    source: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def spec(self) -> dict:
        _, c, h, w = self.images.shape
        return {"source": self.source, "n": len(self), "channels": c, "height": h, "width": w,
                "class_names": self.class_names, "skipped": len(self.skipped)}


# name -> (folder under the data dir, base URL, {split: (images file, sha256, labels file, sha256)})
IDX_DATASETS: dict[str, tuple[str, str, dict[str, tuple[str, str, str, str]]]] = {
    "mnist": ("mnist", "https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train": ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                  "train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "test": ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                 "t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    }),
    "fashion-mnist": ("fashion-mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
        "train": ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                  "train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        "test": ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                 "t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    }),
}


def fetch_idx_dataset(name: str, split: str, *, base_url: str | None = None,
                      download_ok: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from the data dir, else downloaded + checked."""
    folder, url, files = IDX_DATASETS[name]
    img_name, img_sha, lbl_name, lbl_sha = files[split]
    local = data_dir(folder) / folder
    if not ((local / img_name).is_file() and (local / lbl_name).is_file()):
        local = cache_dir() / "data" / folder
        if not download_ok:
            raise BadInputError(missing_dataset(folder, f"{img_name}, {lbl_name}"))
        try:
            for fname, sha in ((img_name, img_sha), (lbl_name, lbl_sha)):
                download((base_url or url) + fname, local / fname, sha)
        except BadInputError as exc:
            raise BadInputError(f"{missing_dataset(folder, f'{img_name}, {lbl_name}')}; the download "
                                f"failed too ({exc})") from exc
    images, labels = read_idx(local / img_name), read_idx(local / lbl_name)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise BadInputError(f"{local}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels


def split_slice(n: int, split: str) -> slice:
    cut = int(round(n * 0.9))  # embedded sets: first 90% train, last 10% test
    return {"train": slice(0, cut), "test": slice(cut, n), "all": slice(0, n)}[split]


def _digits(split: str, skip_bad: bool) -> ImageSet:
    from sklearn.datasets import load_digits

    d = load_digits()
    s = split_slice(len(d.images), split)
    images = torch.from_numpy(d.images[s] / 16.0).float().unsqueeze(1)
    return ImageSet(images, torch.from_numpy(d.target[s]).long(), DIGIT_NAMES, "digits")


def _faces(split: str, skip_bad: bool) -> ImageSet:
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100]  # the first 100 of the subset are faces, the rest are not
    s = split_slice(len(faces), split)
    return ImageSet(torch.from_numpy(faces[s]).float().unsqueeze(1), None, None, "faces")


def _idx_source(name: str) -> Callable[[str, bool], ImageSet]:
    def load(split: str, skip_bad: bool) -> ImageSet:
        splits = ("train", "test") if split == "all" else (split,)
        parts = [fetch_idx_dataset(name, s) for s in splits]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        names = DIGIT_NAMES if name == "mnist" else FASHION_NAMES
        return ImageSet(torch.from_numpy(images).float().div_(255).unsqueeze(1),
                        torch.from_numpy(labels.astype(np.int64)), names, name)
    return load


IMAGE_SOURCES: dict[str, Callable[[str, bool], ImageSet]] = {
    "digits": _digits,
    "faces": _faces,
    "mnist": _idx_source("mnist"),
    "fashion-mnist": _idx_source("fashion-mnist"),
}


def load_image_source(spec: str, *, split: str = "train", image_size: int | None = None,
                      channels: int | None = None, skip_bad: bool = False) -> ImageSet:
    """Load an image source by spec: a built-in name or ``folder:PATH``.

    ``image_size`` resizes to a square; ``channels`` converts to 1 or 3. With ``skip_bad`` a
    folder's unreadable files are skipped and listed in ``ImageSet.skipped``; otherwise the first
    one raises an error naming it.
    """
    if split not in SPLITS:
        raise BadInputError(f"unknown split {split!r}; choose one of {SPLITS}")
    if channels not in (None, 1, 3):
        raise BadInputError(f"channels must be 1 or 3, got {channels}")
    if image_size is not None and not 4 <= image_size <= 1024:
        raise BadInputError(f"image size must be between 4 and 1024 pixels, got {image_size}")
    if spec.startswith("folder:"):
        folder_loader = resolve("aigc.data.folder:load_folder")
        data = folder_loader(Path(spec[len("folder:"):]), split=split, skip_bad=skip_bad)
    elif spec in IMAGE_SOURCES:
        data = IMAGE_SOURCES[spec](split, skip_bad)
    else:
        raise BadInputError(f"unknown image source {spec!r}; use one of {sorted(IMAGE_SOURCES)} "
                            f"or folder:PATH")
    if channels is not None:
        data.images = to_channels(data.images, channels)
    if image_size is not None:
        data.images = resize(data.images, image_size)
    return data
