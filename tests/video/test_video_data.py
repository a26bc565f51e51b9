"""Moving MNIST: trajectories, rendering, the fixed test set and the training pool."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aigc.core.errors import BadInputError
from aigc.data import moving_mnist as mm


def _reference_trajectory(y: float, x: float, theta: float, frames: int) -> list[tuple[int, int]]:
    """The original generator's loop (Srivastava et al. 2015; OpenSTL's MovingMNIST), one digit."""
    vy, vx, out = math.sin(theta), math.cos(theta), []
    by = bx = 1.0
    for _ in range(frames):
        y += by * vy * 0.1
        x += bx * vx * 0.1
        if x <= 0:
            x, bx = 0.0, -bx
        if x >= 1.0:
            x, bx = 1.0, -bx
        if y <= 0:
            y, by = 0.0, -by
        if y >= 1.0:
            y, by = 1.0, -by
        out.append((int(36 * y), int(36 * x)))
    return out


def test_trajectories_match_the_original_loop_bounce_and_stay_in_frame():
    rng = np.random.default_rng(3)
    starts, thetas = rng.random((50, 2)), rng.random(50) * 2 * math.pi
    pos = mm.trajectories(starts, thetas, 40)
    assert pos.shape == (50, 40, 2) and pos.min() >= 0 and pos.max() <= 64 - 28
    for i in range(50):
        assert [tuple(p) for p in pos[i]] == _reference_trajectory(*starts[i], thetas[i], 40)
    steps = np.diff(pos.astype(float), axis=1)
    flips = np.sign(steps[:, 1:]) * np.sign(steps[:, :-1]) < 0  # direction reversed
    assert flips.any()  # 40 frames at 3.6 px/frame must hit a wall
    # a reversal happens only next to a wall
    where = np.argwhere(flips)
    at = pos[where[:, 0], where[:, 1] + 1, where[:, 2]]
    assert np.all((at <= 4) | (at >= 32))


def test_render_is_the_pixelwise_max_of_the_placed_digits(digit_bank):
    spec = mm.sample_sequences(3, len(digit_bank), seed=5)
    frames = mm.render_numpy(spec, digit_bank)
    assert frames.shape == (3, 20, 64, 64) and frames.dtype == np.uint8
    for n in range(3):
        for t in range(20):
            ref = np.zeros((64, 64), np.uint8)
            for k in range(2):
                (r, c), img = spec.positions[n, t, k], digit_bank[spec.digits[n, k]]
                ref[r:r + 28, c:c + 28] = np.maximum(ref[r:r + 28, c:c + 28], img)
            np.testing.assert_array_equal(frames[n, t], ref)


def test_sequences_depend_only_on_seed_and_index(digit_bank):
    a = mm.sample_sequences(8, 10, seed=1)
    b = mm.sample_sequences(3, 10, seed=1)
    c = mm.sample_sequences(8, 10, seed=2)
    np.testing.assert_array_equal(a.positions[:3], b.positions)
    np.testing.assert_array_equal(a.digits[:3], b.digits)
    assert not np.array_equal(a.positions, c.positions)


def test_test_set_same_seed_same_bytes_and_cached_as_npy(digit_bank, tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "nodata"))
    monkeypatch.setattr(mm, "load_digits", lambda split, source="mnist": (digit_bank, np.arange(10)))
    monkeypatch.setattr(mm, "CACHE_MIN", 5)
    assert not isinstance(mm.test_set(4, seed=7), np.memmap)  # small sets are not cached
    first = mm.test_set(6, seed=7)
    assert isinstance(first, np.memmap)
    cached = mm.cache_dir() / "moving-mnist" / "test-seed7-n6.npy"
    assert cached.read_bytes()[:6] == b"\x93NUMPY"  # .npy, not a pickle
    again = mm.test_set(6, seed=7)  # read back from the cache
    fresh = mm.test_set(6, seed=7, images=digit_bank)  # regenerated, not cached
    assert first.tobytes() == again.tobytes() == fresh.tobytes()
    assert first.tobytes() != mm.test_set(6, seed=8, images=digit_bank).tobytes()


def test_canonical_file_is_read_time_major(tmp_path, monkeypatch):
    folder = tmp_path / "moving-mnist"
    folder.mkdir()
    arr = np.random.default_rng(0).integers(0, 256, (20, 4, 64, 64), dtype=np.uint8)
    np.save(folder / mm.CANONICAL_NAME, arr)
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    got = mm.test_set(3)
    np.testing.assert_array_equal(got, arr[:, :3].transpose(1, 0, 2, 3))
    with pytest.raises(BadInputError, match="holds 4 sequences"):
        mm.test_set(5)
    np.save(folder / mm.CANONICAL_NAME, arr[:, :, :32])
    with pytest.raises(BadInputError, match=mm.CANONICAL_NAME):
        mm.test_set(3)


def test_train_tensors_render_like_the_spec(digit_bank):
    labels = np.arange(10) % 10
    data = mm.train_tensors(5, 0, images=digit_bank, labels=labels)
    spec = mm.sample_sequences(5, 10, 0, labels=labels)
    frames = mm.render(data["digits"], data["positions"]).numpy()
    np.testing.assert_array_equal(frames, mm.render_numpy(spec, digit_bank))
    np.testing.assert_array_equal(data["labels"].numpy(), labels[spec.digits])
    assert data["digits"].dtype == torch.uint8 and data["positions"].dtype == torch.int16


def test_mnist_test_digits_make_the_test_set():
    try:
        images, _ = mm.load_digits("test")
    except BadInputError as exc:
        pytest.skip(f"MNIST not available: {exc}")
    frames = mm.test_set(4, canonical=False)
    assert frames.shape == (4, 20, 64, 64) and frames.max() == 255
    np.testing.assert_array_equal(frames, mm.test_set(4, images=images))
