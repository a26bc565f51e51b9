"""Video networks and objectives: shapes, gradients to every parameter, learning, prediction rules."""

from __future__ import annotations

import pytest
import torch

from aigc.core.errors import BadInputError
from aigc.video.classifier import ClipClassifierConfig, ClipClassifierObjective
from aigc.video.convlstm import ConvLSTMConfig
from aigc.video.diffusion import ClipDiffusionConfig, CosineSchedule
from aigc.video.generation import ClipDiffusionObjective, ddim_sample
from aigc.video.evaluate import copy_last_frame
from aigc.video.interp import InterpConfig
from aigc.video.objectives import ConvLSTMObjective, InterpolationObjective, SimVPObjective, batch_frames
from aigc.video.simvp import CONV_PRESET, ConvTranslatorBlock, SimVPConfig

TINY = {
    "convlstm": (ConvLSTMObjective, ConvLSTMConfig(image_size=16, context=3, future=2, hidden=8, layers=2)),
    "simvp": (SimVPObjective, SimVPConfig(image_size=16, context=3, future=2, hid_s=8, hid_t=16, blocks=1)),
    "simvp-conv": (SimVPObjective, SimVPConfig(image_size=16, context=3, future=2, hid_s=8, hid_t=16, blocks=2,
                                               translator="conv")),
    "interp": (InterpolationObjective, InterpConfig(image_size=16, width=8, blocks=2)),
    "diffusion": (ClipDiffusionObjective, ClipDiffusionConfig(image_size=16, frames=4, width=16, blocks=2,
                                                             timesteps=100)),
    "clip-classifier": (ClipClassifierObjective, ClipClassifierConfig(image_size=16, frames=4, width=8,
                                                                      features=16)),
}


class Ctx:
    def __init__(self, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.device = torch.device("cpu")


def _batch(n: int = 4, t: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    """Squares moving one pixel right per frame on 16x16."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.zeros(n, t, 16, 16, dtype=torch.uint8)
    labels = torch.zeros(n, 1, dtype=torch.long)
    for i in range(n):
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        labels[i] = r // 5  # the class is the square's half of the frame (learnable)
        for k in range(t):
            frames[i, k, r:r + 5, (c + k) % 12:(c + k) % 12 + 5] = 255
    return {"frames": frames, "labels": labels}


def _build(name: str, seed: int = 0):
    torch.manual_seed(seed)
    cls, cfg = TINY[name]
    return cls(cfg)


@pytest.mark.parametrize("name", sorted(TINY))
def test_loss_finite_and_gradients_reach_every_parameter(name):
    obj = _build(name)
    if name == "simvp-conv":  # its blocks' second convolutions start at zero: one step opens them
        opt = obj.configure_optimizers(obj.nets, 1e-2)["model"]
        obj.training_step(obj.nets, _batch(), Ctx())["loss"].backward()
        opt.step()
        opt.zero_grad()
    out = obj.training_step(obj.nets, _batch(), Ctx())
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    for pname, p in obj.nets["model"].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_few_steps_lower_the_loss(name):
    obj = _build(name)
    opt = obj.configure_optimizers(obj.nets, 3e-3)["model"]
    batch = _batch(8)
    losses = []
    for _ in range(25):
        loss = obj.training_step(obj.nets, batch, Ctx())["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("name", ["convlstm", "simvp", "simvp-conv"])
def test_prediction_shapes_range_and_long_horizons(name):
    obj = _build(name)
    context = batch_frames(_batch(2))[:, :3]
    for future in (1, 2, 7):
        pred = obj.predict(obj.nets, context, future)
        assert pred.shape == (2, future, 1, 16, 16)
        assert pred.min() >= 0 and pred.max() <= 1
    long = obj.predict(obj.nets, context, 7)
    torch.testing.assert_close(long[:, :2], obj.predict(obj.nets, context, 2))  # a prefix of the rollout


def test_convlstm_feeds_back_its_own_predictions():
    obj = _build("convlstm")
    context = batch_frames(_batch(2))[:, :3]
    with torch.no_grad():
        out = obj.nets["model"](context, 2)  # predictions of frames 1, 2, 3 (first future), 4
        # giving the predicted frame 3 as an input frame must reproduce the prediction of frame 4
        given = obj.nets["model"](torch.cat([context, out[:, 2:3]], 1), 1)
    assert out.shape == (2, 4, 1, 16, 16)
    torch.testing.assert_close(given[:, -1], out[:, -1])


def test_conv_translator_block_starts_as_the_identity():
    block = ConvTranslatorBlock(8)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)


def test_simvp_conv_bf16_step_matches_fp32():
    """The benchmark trains simvp_conv under bf16 autocast: its loss and gradient must be the fp32 ones
    to bf16 precision (a wrong layout or dtype would show here)."""
    obj = _build("simvp-conv")
    batch = _batch(4)
    grads, losses = {}, {}
    for precision, enabled in (("fp32", False), ("bf16", True)):
        obj.nets["model"].zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            loss = obj.training_step(obj.nets, batch, Ctx())["loss"]
        loss.float().backward()
        losses[precision] = float(loss.detach())
        grads[precision] = torch.cat([p.grad.flatten() for p in obj.nets["model"].parameters()
                                      if p.grad is not None])
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)
    cosine = torch.nn.functional.cosine_similarity(grads["bf16"], grads["fp32"], dim=0)
    assert cosine > 0.99


def test_simvp_conv_weights_round_trip_through_safetensors(tmp_path):
    from aigc.core.modeldir import load_weights, save_weights

    obj = _build("simvp-conv")
    net = obj.nets["model"]
    assert net.blocks[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    save_weights(tmp_path / "w.safetensors", net.state_dict())
    fresh = _build("simvp-conv", seed=1).nets["model"]
    fresh.load_state_dict(load_weights(tmp_path / "w.safetensors"))
    context = batch_frames(_batch(2))[:, :3]
    with torch.no_grad():
        torch.testing.assert_close(fresh(context), net(context))


def test_translator_settings():
    from aigc.video.train import VideoSettings, build_objective

    with pytest.raises(BadInputError, match="translator"):
        SimVPConfig(translator="lstm")
    with pytest.raises(BadInputError, match="simvp setting"):
        VideoSettings(arch="convlstm", translator="conv")
    cfg = build_objective(VideoSettings(arch="simvp", translator="conv")).config
    assert (cfg.translator, cfg.hid_s, cfg.hid_t, cfg.blocks) == ("conv", *CONV_PRESET.values())
    cfg = build_objective(VideoSettings(arch="simvp", translator="conv", width=64, layers=2)).config
    assert (cfg.hid_t, cfg.blocks) == (64, 2)  # --width / --layers win over the preset
    assert build_objective(VideoSettings(arch="simvp")).config.translator == "tau"


def test_simvp_rejects_wrong_context_length():
    obj = _build("simvp")
    with pytest.raises(BadInputError, match="3 context frames"):
        obj.nets["model"](torch.zeros(1, 2, 1, 16, 16))


def test_interp_middle_and_batch_checks():
    obj = _build("interp")
    a, b = torch.rand(3, 1, 16, 16), torch.rand(3, 1, 16, 16)
    mid = obj.middle(obj.nets, a, b)
    assert mid.shape == (3, 1, 16, 16) and 0 <= mid.min() and mid.max() <= 1
    with pytest.raises(BadInputError, match="'frames' or 'digits'"):
        obj.training_step(obj.nets, {"x": torch.zeros(1)}, Ctx())


def test_copy_last_frame():
    ctx = torch.rand(2, 4, 1, 8, 8)
    out = copy_last_frame(ctx, 3)
    assert out.shape == (2, 3, 1, 8, 8)
    for t in range(3):
        torch.testing.assert_close(out[:, t], ctx[:, -1])


def test_config_checks():
    with pytest.raises(BadInputError, match="multiple of patch"):
        SimVPConfig(image_size=18)
    with pytest.raises(BadInputError):
        ConvLSTMConfig(kernel=4)
    with pytest.raises(BadInputError):
        InterpConfig(gap=3)


def test_cosine_schedule_and_noising():
    sched = CosineSchedule(1000)
    ab = sched.alpha_bar
    assert ab[0] > 0.999 and ab[-1] < 1e-3 and bool((ab[1:] <= ab[:-1]).all())
    x0, eps = torch.ones(2, 3), torch.full((2, 3), 2.0)
    t = torch.tensor([0, 500])
    expected = ab[t].sqrt()[:, None] * x0 + (1 - ab[t]).sqrt()[:, None] * eps
    torch.testing.assert_close(sched.noise(x0, t, eps), expected)


class _Oracle(torch.nn.Module):
    """A perfect noise predictor for clips that are all the same target ``x0``."""

    def __init__(self, x0: torch.Tensor, schedule: CosineSchedule) -> None:
        super().__init__()
        self.x0, self.ab = x0, schedule.alpha_bar
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, labels=None):
        ab = self.ab[t].view(-1, *([1] * (x.ndim - 1)))
        x0 = self.x0.repeat(x.shape[0] // self.x0.shape[0], *([1] * (x.ndim - 1)))  # guided: 2 halves
        return (x - ab.sqrt() * x0) / (1 - ab).sqrt()


class _CleanOracle(_Oracle):
    def forward(self, x, t, labels=None):
        return self.x0.repeat(x.shape[0] // self.x0.shape[0], *([1] * (x.ndim - 1)))


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("steps", [1, 5, 50])
@pytest.mark.parametrize("target", ["eps", "x0"])
def test_ddim_with_a_perfect_denoiser_returns_the_target(steps, target, eta):
    sched = CosineSchedule(100)
    x0 = torch.rand(2, 4, 1, 8, 8) * 1.6 - 0.8
    oracle = (_Oracle if target == "eps" else _CleanOracle)(x0, sched)
    out = ddim_sample(oracle, sched, tuple(x0.shape), torch.Generator().manual_seed(0),
                      labels=torch.tensor([1, 2]), steps=steps, guidance=3.0, uncond_label=10, target=target,
                      eta=eta)
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


class _Smooth(torch.nn.Module):
    """A fixed, imperfect noise predictor (so every step's x0 estimate and its clipping matter)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, x, t, labels=None):
        return self.w * torch.tanh(x) + 0.001 * t.view(-1, *([1] * (x.ndim - 1)))


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_eta_matches_the_image_samplers_step(eta):
    """The same schedule, network and noise draws through the image task's NoiseSchedule.ddim_step
    (an independent implementation of Song et al.'s eq. 12, with x0 clipping)."""
    from aigc.image_gen.diffusion.schedule import NoiseSchedule

    video = CosineSchedule(50)
    ab = video.alpha_bar.double()
    image = NoiseSchedule(1 - torch.cat([ab[:1], ab[1:] / ab[:-1]]))
    torch.testing.assert_close(image.alphas_cumprod, ab)
    net, shape, steps = _Smooth(), (3, 2, 1, 4, 4), 6
    with torch.no_grad():
        out = ddim_sample(net, video, shape, torch.Generator().manual_seed(3), labels=None, steps=steps,
                          guidance=1.0, uncond_label=10, eta=eta)
        gen = torch.Generator().manual_seed(3)
        x = torch.randn(shape, generator=gen)
        ts = torch.linspace(49, 0, steps).round().long().tolist()
        for i, t in enumerate(ts):
            t_prev = ts[i + 1] if i + 1 < steps else -1
            tt = torch.full((shape[0],), t)
            noise = torch.randn(shape, generator=gen) if eta > 0 and t_prev >= 0 else None
            x = image.ddim_step(x, net(x, tt), tt, torch.full((shape[0],), t_prev), eta=eta,
                                noise=noise if noise is not None else torch.zeros(shape))
    torch.testing.assert_close(out, x.float(), atol=2e-5, rtol=0)


def test_generation_same_seed_same_clips_and_any_length():
    obj = _build("diffusion")
    for net in obj.nets.values():
        net.eval()
    kwargs = dict(n=2, labels=torch.tensor([3, 7]), steps=3, guidance=2.0)
    a = obj.generate(obj.nets, torch.Generator().manual_seed(5), frames=4, **kwargs)
    b = obj.generate(obj.nets, torch.Generator().manual_seed(5), frames=4, **kwargs)
    c = obj.generate(obj.nets, torch.Generator().manual_seed(6), frames=4, **kwargs)
    assert a.shape == (2, 4, 1, 16, 16) and 0 <= a.min() and a.max() <= 1
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert obj.generate(obj.nets, torch.Generator(), frames=9, **kwargs).shape[1] == 9
    with pytest.raises(BadInputError, match="--steps"):
        obj.generate(obj.nets, torch.Generator(), frames=4, **{**kwargs, "steps": 101})
    noisy = dict(kwargs, eta=1.0)  # DDPM noise: still one seed, one set of clips; not the DDIM ones
    d = obj.generate(obj.nets, torch.Generator().manual_seed(5), frames=4, **noisy)
    torch.testing.assert_close(d, obj.generate(obj.nets, torch.Generator().manual_seed(5), frames=4, **noisy))
    assert not torch.equal(a, d)
    for eta in (-0.1, 1.5):
        with pytest.raises(BadInputError, match="--eta must be between 0"):
            obj.generate(obj.nets, torch.Generator(), frames=4, **dict(kwargs, eta=eta))


def test_diffusion_output_depends_on_class_and_time():
    obj = _build("diffusion")
    net = obj.nets["model"]
    x = torch.randn(2, 4, 1, 16, 16)
    t = torch.tensor([10, 10])
    base = net(x, t, torch.tensor([1, 1]))
    assert not torch.allclose(base, net(x, t, torch.tensor([2, 2])))
    assert not torch.allclose(base, net(x, torch.tensor([90, 90]), torch.tensor([1, 1])))
