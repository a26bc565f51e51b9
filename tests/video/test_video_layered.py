"""The layered sprite predictor: its rendering against the Moving MNIST generator and scipy, its
motion measurements against the generator's true trajectories, and the usual model checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from aigc.core.errors import BadInputError
from aigc.data.moving_mnist import render, sample_sequences
from aigc.video.layered import (
    LayeredConfig,
    LayeredNet,
    lag_motion,
    local_correlation,
    motion_trail,
    render_layers,
    shift_matrices,
)
from aigc.video.objectives import LayeredObjective, batch_frames


def _one_hot(shifts: torch.Tensor, r: int) -> torch.Tensor:
    """Integer shifts (...,) in [-r, r] -> one-hot distributions (..., 2r+1)."""
    return torch.nn.functional.one_hot(shifts.long() + r, 2 * r + 1).float()


def _sequences(digit_bank: np.ndarray, n: int = 6, seed: int = 3):
    spec = sample_sequences(n, len(digit_bank), seed)
    digits = torch.from_numpy(digit_bank[spec.digits]).float() / 255  # (n, 2, 28, 28)
    positions = torch.from_numpy(spec.positions)  # (n, 20, 2, 2)
    return digits, positions, render(digits, positions)


def test_shift_matrix_moves_like_scipy_shift():
    rng = np.random.default_rng(0)
    image = rng.random((12, 12)).astype(np.float32)
    for dy, dx in ((0, 0), (3, -2), (-5, 4), (11, -11)):
        probs = torch.stack([_one_hot(torch.tensor(dy), 11), _one_hot(torch.tensor(dx), 11)])
        rows, cols = shift_matrices(probs, 12)
        moved = (rows @ torch.from_numpy(image) @ cols.T).numpy()
        np.testing.assert_allclose(moved, ndimage.shift(image, (dy, dx), order=0, cval=0.0), atol=1e-6)


def test_shift_matrix_of_a_distribution_is_a_convolution():
    probs = torch.softmax(torch.randn(7, generator=torch.Generator().manual_seed(1)), 0)  # shifts -3..3
    column = torch.zeros(20)
    column[10] = 1.0
    moved = shift_matrices(probs, 20) @ column
    torch.testing.assert_close(moved[7:14], probs)  # an impulse spreads into the distribution itself
    assert moved.sum().item() == pytest.approx(1.0)


def test_true_layers_and_shifts_redraw_the_generator_frames(digit_bank):
    """Each digit alone at the last context frame, moved by its true displacement and overlaid with
    a max, is exactly what the Moving MNIST generator draws for every future frame."""
    digits, positions, frames = _sequences(digit_bank)
    r = 36
    layers = torch.stack([render(digits[:, k:k + 1], positions[:, 9:10, k:k + 1])[:, 0] for k in range(2)], 1)
    moves = positions[:, 10:] - positions[:, 9:10]  # (n, 10, 2 digits, 2 axes)
    probs = _one_hot(moves.permute(0, 2, 1, 3), r)  # (n, 2, 10, 2, 2r+1)
    torch.testing.assert_close(render_layers(layers, probs), frames[:, 10:])


def test_lag_motion_finds_a_digits_true_displacement_at_every_lag(digit_bank):
    digits, positions, _ = _sequences(digit_bank, n=8)
    digits, positions = digits[:, :1], positions[:, :, :1]  # one digit: nothing hides it
    frames = render(digits, positions)
    layers = frames[:, 9:10]
    motion = lag_motion(layers, frames[:, :9].flip(1), max_speed=4.0)  # frame 8 at lag 1 ... 0 at 9
    lags = torch.arange(1, 10).view(1, 1, 9, 1)
    truth = (positions[:, 9:10] - positions[:, :9].flip(1)).permute(0, 2, 1, 3).float()  # (n, 1, 9, 2)
    np.testing.assert_allclose((motion[..., :2] * lags).numpy(), truth.numpy(), atol=0.05)
    np.testing.assert_allclose(motion[..., 2].numpy(), 1.0, atol=1e-4)  # an exact match scores 1


def test_local_correlation_peaks_at_the_motion_and_matches_a_direct_sum():
    g = torch.Generator().manual_seed(0)
    prev = (torch.rand(1, 1, 24, 24, generator=g) > 0.7).float()
    last = torch.roll(prev, (2, -1), (2, 3))  # everything moved down 2, left 1
    corr = local_correlation(last, prev, radius=3)
    assert corr.shape == (1, 49, 24, 24)
    y, x = 12, 12
    best = corr[0, :, y, x].argmax().item()
    assert divmod(best, 7) == (2 + 3, -1 + 3)
    # one entry by hand: the 5x5 window sums of last * prev(displaced), over the window energy
    dy, dx = 1, 2
    a = last[0, 0, y - 2:y + 3, x - 2:x + 3]
    b = prev[0, 0, y - 2 - dy:y + 3 - dy, x - 2 - dx:x + 3 - dx]
    expected = (a * b).mean() / ((a * a).mean() + 1e-2)
    assert corr[0, (dy + 3) * 7 + (dx + 3), y, x].item() == pytest.approx(expected.item(), rel=1e-5)


TINY = LayeredConfig(image_size=16, context=4, future=3, lags=3, max_shift=8, corr_radius=2, width=16,
                     blocks=1, hidden=32)


def _batch(n: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two bright blocks per clip moving at their own constant speed on 16x16."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.zeros(n, 7, 16, 16, dtype=torch.uint8)
    for i in range(n):
        for _ in range(2):
            r, c = torch.randint(2, 10, (2,), generator=g).tolist()
            vr, vc = torch.randint(-1, 2, (2,), generator=g).tolist()
            for t in range(7):
                rr, cc = min(max(r + vr * t, 0), 13), min(max(c + vc * t, 0), 13)
                frames[i, t, rr:rr + 3, cc:cc + 3] = 200
    return {"frames": frames}


class Ctx:
    generator = torch.Generator().manual_seed(0)
    device = torch.device("cpu")


def test_shapes_range_and_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    obj = LayeredObjective(TINY)
    opt = obj.configure_optimizers(obj.nets, 1e-2)["model"]
    obj.training_step(obj.nets, _batch(), Ctx())["loss"].backward()  # zero-initialised layers open
    opt.step()
    opt.zero_grad()
    loss = obj.training_step(obj.nets, _batch(), Ctx())["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in obj.nets["model"].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    context = batch_frames(_batch(2))[:, :4]
    for future in (1, 3, 5):
        pred = obj.predict(obj.nets, context, future)
        assert pred.shape == (2, future, 1, 16, 16) and pred.min() >= 0 and pred.max() <= 1


def test_a_fresh_model_starts_near_copy_last_frame():
    torch.manual_seed(0)
    net = LayeredNet(TINY)
    context = batch_frames(_batch(4))[:, :4]
    layers, masks, probs = net.parts(context)
    torch.testing.assert_close(masks.sum(1), torch.ones(4, 16, 16))
    torch.testing.assert_close(layers.sum(1), context[:, -1, 0])  # the masks split the last frame
    assert probs.shape == (4, 2, 3, 2, 17)
    assert (probs.argmax(-1) == 8).all()  # most likely shift: none


def test_a_few_steps_lower_the_loss_and_same_seed_same_model():
    def run(seed: int) -> tuple[list[float], torch.Tensor]:
        torch.manual_seed(seed)
        obj = LayeredObjective(TINY)
        opt = obj.configure_optimizers(obj.nets, 3e-3)["model"]
        losses = []
        for _ in range(30):
            loss = obj.training_step(obj.nets, _batch(), Ctx())["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, obj.predict(obj.nets, batch_frames(_batch(2, seed=5))[:, :4], 3)

    losses, pred = run(0)
    assert losses[-1] < 0.7 * losses[0]
    again, pred_again = run(0)
    assert again == losses
    torch.testing.assert_close(pred, pred_again, rtol=0, atol=0)


def test_bf16_forward_is_close_to_fp32():
    torch.manual_seed(0)
    net = LayeredNet(TINY)
    context = batch_frames(_batch(4))[:, :4]
    with torch.no_grad():
        ref = net(context)
        with torch.autocast("cpu", torch.bfloat16):
            low = net(context)
    assert low.dtype == torch.float32
    assert (low - ref).abs().max() < 0.05


def test_config_checks():
    for bad in ({"channels": 3}, {"context": 1, "lags": 1}, {"lags": 10}, {"max_shift": 64}, {"width": 30},
                {"image_size": 30}):
        with pytest.raises(BadInputError):
            LayeredConfig(**bad)
    with pytest.raises(BadInputError, match="context frames"):
        LayeredNet(TINY)(torch.zeros(1, 3, 1, 16, 16))


def test_motion_trail_of_the_true_motion_redraws_the_last_frame(digit_bank):
    """Following one digit's true displacement back through every earlier frame finds its own ink:
    the trail equals the last frame (a second digit, seen at the first one's motion, does not)."""
    digits, positions, _ = _sequences(digit_bank, n=6)
    one = render(digits[:, :1], positions[:, :, :1])
    velocity = ((positions[:, 9:10, :1] - positions[:, :9, :1].flip(1)).permute(0, 2, 1, 3).float()
                / torch.arange(1, 10).view(1, 1, 9, 1))
    trail = motion_trail(one[:, :9].flip(1), velocity)
    assert trail.shape == (6, 2, 64, 64)
    torch.testing.assert_close(trail[:, 0], one[:, 9], atol=1e-5, rtol=0)
    torch.testing.assert_close(trail[:, 1], one[:, 9], atol=1e-5, rtol=0)
    other = render(digits[:, 1:], positions[:, :, 1:])
    stray = motion_trail(other[:, :9].flip(1), velocity)[:, 0] * other[:, 9]
    assert stray.sum() < 0.5 * (other[:, 9] ** 2).sum()


def test_a_flag_the_layered_model_does_not_have_is_one_line(tmp_path, capsys):
    from aigc.cli import main

    assert main(["train", "video", "--arch", "layered", "--patch", "4", "--steps", "1",
                 "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--arch layered has no --patch; leave it out") and len(err.splitlines()) == 1
    assert not (tmp_path / "m").exists()
