"""Moving MNIST (Srivastava et al. 2015), generated the standard way.

Protocol (as in the original generator and OpenSTL's ``MovingMNIST``): two 28x28 MNIST digits on a
64x64 canvas, each starting at a uniform random position with a uniform random direction, moving
``step_length=0.1`` of the free range per frame, bouncing off the edges, overlaid with a pixel-wise
max; 20 frames. Training sequences use MNIST train digits, the fixed test set (10,000 sequences)
MNIST test digits. A sequence is a pair (digit indices, top-left positions); frames are rendered
from it, so a pool of a million training sequences costs a few hundred MB of uint8 digits, not
80 GB of frames.

Sequence ``i`` of a set depends only on ``(seed, i)`` (one ``SeedSequence`` child per sequence), so
the first ``k`` of a 10,000-sequence set equal a ``k``-sequence set made with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aigc.core.atomic import atomic_path
from aigc.core.errors import BadInputError
from aigc.core.paths import cache_dir, data_dir

__all__ = ["MovingMNISTSpec", "sample_sequences", "trajectories", "render", "render_numpy",
           "load_digits", "test_set", "train_tensors", "DIGIT_SOURCES", "CANONICAL_NAME", "TEST_SEED", "TEST_SIZE"]

CANVAS, DIGIT, FRAMES, N_DIGITS, STEP = 64, 28, 20, 2, 0.1
TEST_SEED, TEST_SIZE = 42, 10_000
CACHE_MIN = 1_000  # test sets at least this large are cached
CANONICAL_NAME = "mnist_test_seq.npy"  # the file of Srivastava et al.: (20, 10000, 64, 64) uint8


@dataclass
class MovingMNISTSpec:
    """Sequences as recipes: ``digits`` (N, D) indices into a digit bank, ``labels`` (N, D) their
    classes, ``positions`` (N, T, D, 2) int64 top-left (row, col) of each digit in each frame."""

    digits: np.ndarray
    labels: np.ndarray
    positions: np.ndarray

    def __len__(self) -> int:
        return int(self.digits.shape[0])


def trajectories(starts: np.ndarray, thetas: np.ndarray, frames: int = FRAMES, *,
                 canvas: int = CANVAS, digit: int = DIGIT, step: float = STEP) -> np.ndarray:
    """Bouncing trajectories: ``starts`` (N, 2) (y, x) in [0, 1], ``thetas`` (N,) radians ->
    (N, frames, 2) int64 top-left pixel positions in [0, canvas - digit].

    Each frame first moves by ``step * (sin, cos)``; a coordinate crossing 0 or 1 is clamped and its
    velocity reversed (the original generator's bounce). Positions scale by ``canvas - digit``.
    """
    pos = np.asarray(starts, dtype=np.float64).copy()
    vel = np.stack([np.sin(thetas), np.cos(thetas)], axis=1).astype(np.float64)
    out = np.empty((len(pos), frames, 2), dtype=np.float64)
    for t in range(frames):
        pos += vel * step
        low, high = pos <= 0.0, pos >= 1.0
        pos[low], pos[high] = 0.0, 1.0
        vel[low | high] *= -1.0
        out[:, t] = pos
    return (out * (canvas - digit)).astype(np.int64)


def sample_sequences(n: int, n_images: int, seed: int, *, frames: int = FRAMES,
                     n_digits: int = N_DIGITS, labels: np.ndarray | None = None) -> MovingMNISTSpec:
    """``n`` sequence recipes over a bank of ``n_images`` digits; sequence i depends on (seed, i)."""
    if n < 1 or n_images < 1:
        raise BadInputError(f"need at least one sequence and one digit image, got n={n}, digits={n_images}")
    children = np.random.SeedSequence(seed).spawn(n)
    digits = np.empty((n, n_digits), dtype=np.int64)
    params = np.empty((n, n_digits, 3), dtype=np.float64)  # y, x, theta
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        digits[i] = rng.integers(0, n_images, size=n_digits)
        params[i] = rng.random((n_digits, 3))
    params[..., 2] *= 2 * np.pi
    flat = trajectories(params[..., :2].reshape(-1, 2), params[..., 2].reshape(-1), frames)
    positions = flat.reshape(n, n_digits, frames, 2).transpose(0, 2, 1, 3).copy()
    lab = labels[digits] if labels is not None else np.full_like(digits, -1)
    return MovingMNISTSpec(digits, lab.astype(np.int64), positions)


def render(digits: torch.Tensor, positions: torch.Tensor, canvas: int = CANVAS) -> torch.Tensor:
    """Frames of a batch: ``digits`` (B, D, h, w) uint8 or float, ``positions`` (B, T, D, 2) ->
    (B, T, canvas, canvas) of the digits' dtype, digits overlaid with a pixel-wise max."""
    b, d, h, w = digits.shape
    t = positions.shape[1]
    out = torch.zeros(b, t, canvas, canvas, dtype=digits.dtype, device=digits.device)
    rows = torch.arange(h, device=digits.device)
    cols = torch.arange(w, device=digits.device)
    bi = torch.arange(b, device=digits.device).view(b, 1, 1, 1)
    ti = torch.arange(t, device=digits.device).view(1, t, 1, 1)
    pos = positions.long()
    for k in range(d):
        r = (pos[:, :, k, 0].view(b, t, 1, 1) + rows.view(1, 1, h, 1))
        c = (pos[:, :, k, 1].view(b, t, 1, 1) + cols.view(1, 1, 1, w))
        patch = digits[:, k].view(b, 1, h, w).expand(b, t, h, w)
        out[bi, ti, r, c] = torch.maximum(out[bi, ti, r, c], patch)
    return out


def render_numpy(spec: MovingMNISTSpec, images: np.ndarray, *, batch: int = 500) -> np.ndarray:
    """(N, T, 64, 64) uint8 frames of ``spec`` over the digit bank ``images`` (M, 28, 28) uint8."""
    n, t = spec.positions.shape[:2]
    out = np.empty((n, t, CANVAS, CANVAS), dtype=np.uint8)
    bank = torch.from_numpy(np.require(images, np.uint8, ["C", "W"]))
    for s in range(0, n, batch):
        digits = bank[torch.from_numpy(spec.digits[s:s + batch])]
        out[s:s + batch] = render(digits, torch.from_numpy(spec.positions[s:s + batch])).numpy()
    return out


DIGIT_SOURCES = ("mnist", "digits")


def load_digits(split: str, source: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Digit images (N, 28, 28) uint8 and labels (N,) of ``split`` ("train" or "test"): MNIST, or
    scikit-learn's 8x8 ``digits`` enlarged bilinearly to 28x28 (embedded; for demos and tests)."""
    if source == "mnist":
        from aigc.data.images import fetch_idx_dataset

        return fetch_idx_dataset("mnist", split)
    if source != "digits":
        raise BadInputError(f"unknown digit source {source!r}; use one of {DIGIT_SOURCES}")
    from aigc.data.images import load_image_source

    data = load_image_source("digits", split=split, image_size=DIGIT)
    images = data.images[:, 0].mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    return images, data.labels.numpy().astype(np.uint8)


def _canonical_file() -> Path | None:
    folders = (data_dir("moving-mnist") / "moving-mnist", data_dir("moving_mnist") / "moving_mnist",
               cache_dir() / "moving-mnist")
    for folder in folders:
        if (folder / CANONICAL_NAME).is_file():
            return folder / CANONICAL_NAME
    return None


def _read_canonical(path: Path, n: int) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable .npy file ({exc}); delete or replace it") from exc
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[0] != FRAMES or arr.shape[2:] != (CANVAS, CANVAS):
        raise BadInputError(f"{path}: expected (20, N, 64, 64) uint8 like the original "
                            f"{CANONICAL_NAME}, got {arr.shape} {arr.dtype}")
    if n > arr.shape[1]:
        raise BadInputError(f"{path} holds {arr.shape[1]} sequences, fewer than the {n} asked for")
    return arr[:, :n].transpose(1, 0, 2, 3)


def test_set(n: int = TEST_SIZE, seed: int = TEST_SEED, *, canonical: bool = True,
             images: np.ndarray | None = None) -> np.ndarray:
    """The fixed test set: (n, 20, 64, 64) uint8 (a read-only memory map when cached).

    With ``canonical`` the original ``mnist_test_seq.npy`` is read when it sits in
    ``AIGC_DATA_DIR/moving-mnist/``. Otherwise sequences are drawn from MNIST test digits (or the
    given ``images``) with ``seed``; sets of ``CACHE_MIN`` or more MNIST sequences are written once
    to the cache as ``.npy`` (819 MB for 10,000) and memory-mapped after.
    """
    if canonical and images is None and (path := _canonical_file()) is not None:
        return _read_canonical(path, n)
    if images is not None:
        return render_numpy(sample_sequences(n, len(images), seed), images)
    folder = cache_dir() / "moving-mnist"
    for size in sorted({n, TEST_SIZE}):  # a cached larger set holds this one as its prefix
        cached = folder / f"test-seed{seed}-n{size}.npy"
        if size >= n and cached.is_file():
            return np.load(cached, mmap_mode="r", allow_pickle=False)[:n]
    images = load_digits("test")[0]
    frames = render_numpy(sample_sequences(n, len(images), seed), images)
    if n < CACHE_MIN:  # quick to redo; keeps the cache from filling with small sets
        return frames
    cached = folder / f"test-seed{seed}-n{n}.npy"
    with atomic_path(cached) as tmp, open(tmp, "wb") as fh:
        np.save(fh, frames, allow_pickle=False)
    return np.load(cached, mmap_mode="r", allow_pickle=False)


def train_tensors(n: int, seed: int, *, images: np.ndarray | None = None, labels: np.ndarray | None = None,
                  frames: int = FRAMES, n_digits: int = N_DIGITS) -> dict[str, torch.Tensor]:
    """A training pool for the Trainer: ``digits`` (n, D, 28, 28) uint8 (the sequence's own digit
    images), ``positions`` (n, T, D, 2) int16 and ``labels`` (n, D) int64 (-1 when unknown).

    Digits come from MNIST train unless ``images`` is given; frames are rendered per batch with
    :func:`render`.
    """
    if images is None:
        images, labels = load_digits("train")
    spec = sample_sequences(n, len(images), seed, frames=frames, n_digits=n_digits, labels=labels)
    bank = torch.from_numpy(np.require(images, np.uint8, ["C", "W"]))
    return {"digits": bank[torch.from_numpy(spec.digits)],
            "positions": torch.from_numpy(spec.positions.astype(np.int16)),
            "labels": torch.from_numpy(spec.labels)}
