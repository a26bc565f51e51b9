"""DDPM: schedules against closed forms, the U-Net, DDIM step counts, classifier-free guidance,
inpainting, save/load, prompts, the CLI (train, generate, inpaint) and the diagnostics hook."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import aigc
from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.data.transforms import from_signed
from aigc.image_gen.diffusion.ddpm import DDPMConfig, DDPMObjective
from aigc.image_gen.diffusion.schedule import NoiseSchedule
from aigc.train import TrainConfig, Trainer
from aigc.train.trainer import read_metrics

SMALL = dict(image_size=8, features=8, mults=(1, 2), attention_levels=(1,), timesteps=40)


def make(**kw) -> DDPMObjective:
    torch.manual_seed(0)
    obj = DDPMObjective(DDPMConfig(**{**SMALL, **kw}))
    with torch.no_grad():  # the zero-initialised head would predict 0 everywhere: make outputs vary
        obj.nets["unet"].head[-1].weight.normal_(0, 0.1)
    return obj


def toy_data(n: int = 16):
    labels = torch.arange(n) % 4
    images = torch.zeros(n, 1, 8, 8)
    for i, y in enumerate(labels.tolist()):
        images[i, 0, 2 * y:2 * y + 2, :] = 1.0
    return {"images": images, "labels": labels}


def test_schedules_match_closed_forms():
    lin = NoiseSchedule.linear(1000)
    assert math.isclose(lin.betas[0].item(), 1e-4) and math.isclose(lin.betas[-1].item(), 0.02)
    assert torch.allclose(lin.alphas_cumprod, torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0))
    cos = NoiseSchedule.cosine(100)
    f = lambda t: math.cos((t / 100 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 10, 50, 98):
        assert math.isclose(cos.alphas_cumprod[t].item(), f(t + 1) / f(0), rel_tol=1e-9)
    assert NoiseSchedule.linear(100).betas[-1].item() == pytest.approx(0.2)  # scaled by 1000/T
    with pytest.raises(BadInputError):
        NoiseSchedule.from_name("quadratic", 10)


def test_ddim_step_is_exact_for_the_true_noise():
    s = NoiseSchedule.cosine(50)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1, torch.randn(3, 1, 4, 4, generator=g)
    t, t_prev = torch.full((3,), 30), torch.full((3,), 12)
    x_t = s.q_sample(x0, t, eps)
    # with the true noise DDIM (eta = 0) lands on q_sample(x0, t_prev, eps) (Song et al. 2021, eq. 12)
    assert torch.allclose(s.ddim_step(x_t, eps, t, t_prev), s.q_sample(x0, t_prev, eps), atol=1e-5)
    assert torch.allclose(s.ddim_step(x_t, eps, t, torch.full((3,), -1)), x0, atol=1e-5)
    assert s.sampling_timesteps(5) == [49, 37, 24, 12, 0]


def test_ddim_step_with_eta_one_is_the_ddpm_posterior():
    # one step t -> t-1 with eta = 1 samples q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eqs. 6-7):
    # mean (sqrt(a_{t-1}) b_t x0 + sqrt(alpha_t) (1 - a_{t-1}) x_t) / (1 - a_t), variance (1 - a_{t-1}) b_t / (1 - a_t)
    s = NoiseSchedule.linear(100)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(2, 1, 4, 4, generator=g) * 2 - 1
    eps, z = torch.randn(2, 1, 4, 4, generator=g), torch.randn(2, 1, 4, 4, generator=g)
    for t_int in (1, 40, 99):
        t, t_prev = torch.full((2,), t_int), torch.full((2,), t_int - 1)
        x_t = s.q_sample(x0, t, eps)
        a, a_prev, b = (s.alphas_cumprod[t_int].item(), s.alphas_cumprod[t_int - 1].item(), s.betas[t_int].item())
        mean = (math.sqrt(a_prev) * b * x0 + math.sqrt(1 - b) * (1 - a_prev) * x_t) / (1 - a)
        var = (1 - a_prev) * b / (1 - a)
        got = s.ddim_step(x_t, eps, t, t_prev, eta=1.0, noise=z)
        assert torch.allclose(got, mean + math.sqrt(var) * z, atol=1e-5)


def test_unet_shapes_and_gradients_reach_every_parameter():
    obj = make(num_classes=4)
    unet = obj.nets["unet"]
    x, t = torch.randn(4, 1, 8, 8), torch.tensor([0, 5, 20, 39])
    out = unet(x, t, torch.tensor([0, 1, 3, 4]))  # 4 = the null class
    assert out.shape == x.shape
    loss = obj.training_step(obj.nets, toy_data(8), _Ctx())["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in unet.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


@pytest.mark.parametrize("features", [8, 32])  # 8 and 32 channels: GroupNorm has one channel per group
def test_unet_output_depends_on_timestep_and_label(features):
    """The conditioning must survive the norms: an additive per-channel bias before a one-channel-
    per-group GroupNorm is removed exactly, and such a U-Net ignores t and the class."""
    obj = make(num_classes=4, features=features)
    unet = obj.nets["unet"].eval()
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = unet(x, torch.tensor([10, 10]), torch.tensor([1, 1]))
        other_t = unet(x, torch.tensor([30, 30]), torch.tensor([1, 1]))
        other_y = unet(x, torch.tensor([10, 10]), torch.tensor([2, 4]))
    scale = base.abs().mean()
    assert (base - other_t).abs().mean() > 0.01 * scale
    assert (base - other_y).abs().mean() > 0.01 * scale


class _Ctx:
    generator, device = torch.Generator().manual_seed(0), torch.device("cpu")


def _count_calls(unet):
    calls = []
    handle = unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    return calls, handle


@pytest.mark.parametrize("steps,guidance", [(1, 3.0), (7, 3.0), (12, 0.0), (40, 1.0)])
def test_ddim_calls_the_network_exactly_steps_times(steps, guidance):
    obj = make(num_classes=4)
    calls, handle = _count_calls(obj.nets["unet"])
    obj.sample(obj.nets, torch.Generator().manual_seed(0), n=3, labels=1, steps=steps, guidance=guidance)
    handle.remove()
    assert len(calls) == steps
    assert set(calls) == {6 if guidance not in (0.0, 1.0) else 3}  # guidance batches cond + uncond


def test_guidance_zero_is_the_unconditional_path_and_scale_mixes_linearly():
    obj = make(num_classes=4)
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    uncond = obj.sample(obj.nets, gen(), n=4, steps=6)
    assert torch.equal(obj.sample(obj.nets, gen(), n=4, labels=2, steps=6, guidance=0.0), uncond)
    assert not torch.allclose(obj.sample(obj.nets, gen(), n=4, labels=2, steps=6, guidance=3.0), uncond)
    unet, x, t, y = obj.nets["unet"], torch.randn(4, 1, 8, 8), torch.full((4,), 9), torch.tensor([0, 1, 2, 3])
    e_c, e_u = unet(x, t, y), unet(x, t, None)
    assert torch.allclose(obj.sampler.guided_eps(unet, x, t, y, 2.5), e_u + 2.5 * (e_c - e_u), atol=1e-5)
    assert torch.equal(unet(x, t, None), unet(x, t, torch.full((4,), 4)))  # None = the null class


def test_inpainting_keeps_known_pixels_and_counts_calls():
    obj = make()
    images = toy_data(3)["images"]
    mask = torch.zeros(3, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    calls, handle = _count_calls(obj.nets["unet"])
    out = obj.inpaint(obj.nets, images, mask, torch.Generator().manual_seed(0), steps=5, resample=3)
    handle.remove()
    assert len(calls) == 5 * 3 and out.shape == images.shape
    keep = mask.expand_as(images) == 0
    assert torch.equal(out[keep], images[keep])
    assert not torch.equal(out[~keep], images[~keep])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpm") / "m"
    obj = DDPMObjective(DDPMConfig(**SMALL, num_classes=4, sample_steps=5))
    tcfg = TrainConfig(steps=40, batch_size=16, lr=3e-3, device="cpu", seed=0, log_every=1, progress=False)
    meta = {"task": "image-gen", "architecture": "ddpm",
            "data": {"source": "toy", "class_names": ["top", "upper", "lower", "bottom"]}}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(obj, tcfg, out, meta=meta).fit(toy_data())
    finally:
        torch.set_num_threads(threads)
    return out


def test_a_few_steps_lower_the_loss(trained):
    losses = [r["loss"] for r in read_metrics(trained)]
    assert np.mean(losses[-8:]) < np.mean(losses[:8])


def test_save_load_same_seed_and_prompts(trained):
    pipe = aigc.load(str(trained), device="cpu")
    a = pipe.generate(5, seed=1, labels=pipe.label_for("Lower"), steps=4)
    assert a.shape == (5, 1, 8, 8) and torch.equal(a, pipe.generate(5, seed=1, labels=2, steps=4))
    assert torch.allclose(pipe.generate(5, seed=1, labels=2, steps=4, batch_size=2), a, atol=1e-5)
    assert not torch.equal(a, pipe.generate(5, seed=2, labels=2, steps=4))
    again = aigc.load(str(trained), device="cpu")
    assert torch.equal(again.generate(5, seed=1, labels=2, steps=4), a)
    with pytest.raises(BadInputError, match="top, upper, lower, bottom"):
        pipe.label_for("middle")
    with pytest.raises(BadInputError, match="steps"):
        pipe.generate(2, steps=41)


def test_step_noise_is_per_image_and_eta_zero_is_deterministic_ddim(trained):
    pipe = aigc.load(str(trained), device="cpu")
    assert pipe.objective.config.sample_eta == 1.0  # the default: DDPM step noise
    a = pipe.generate(5, seed=3, labels=1, steps=6)
    assert torch.allclose(pipe.generate(5, seed=3, labels=1, steps=6, batch_size=2), a, atol=1e-5)
    assert torch.equal(pipe.generate(5, seed=3, labels=1, steps=6, eta=1.0), a)
    ddim = pipe.generate(5, seed=3, labels=1, steps=6, eta=0.0)
    assert not torch.allclose(ddim, a, atol=1e-3)
    # eta = 0 draws nothing per step: the same starting noise through the plain DDIM loop
    unet, sampler = pipe.nets["unet"], pipe.objective.sampler
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 1, 8, 8, generator=gen)
    y = torch.full((5,), 1)
    with torch.no_grad():
        ref = from_signed(sampler._ddim_loop(unet, x, y, 6, pipe.objective.config.guidance))
    assert torch.allclose(ddim, ref, atol=1e-6)
    with pytest.raises(BadInputError, match="eta"):
        pipe.generate(2, eta=1.5)


def _png(path, array):
    Image.fromarray(array.astype(np.uint8)).save(path)


def test_cli_generate_and_inpaint_keep_unmasked_pixels(trained, tmp_path, capsys):
    assert main(["generate", str(trained), "--prompt", "top", "--n", "4", "--steps", "3",
                 "--guidance", "2", "--out", str(tmp_path / "s.png")]) == 0
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8))
    mask = np.zeros((8, 8))
    mask[3:6, 1:7] = 255
    _png(tmp_path / "in.png", image)
    _png(tmp_path / "mask.png", mask)
    assert main(["inpaint", str(trained), "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
                 "--out", str(tmp_path / "out.png"), "--steps", "4"]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png").convert("L"))
    assert out.shape == (8, 8) and np.array_equal(out[mask == 0], image[mask == 0])
    assert main(["generate", str(trained), "--prompt", "nope", "--out", str(tmp_path / "x.png")]) == 2
    assert "top, upper, lower, bottom" in capsys.readouterr().err
    assert main(["generate", str(trained), "--eta", "-0.5", "--out", str(tmp_path / "x.png")]) == 2
    assert "eta must be between 0" in capsys.readouterr().err


def test_cli_trains_ddpm_on_faces(tmp_path):
    out = tmp_path / "faces"
    assert main(["train", "image-gen", "--arch", "ddpm", "--data", "faces", "--image-size", "8", "--features", "8",
                 "--timesteps", "20", "--schedule-kind", "cosine", "--steps", "2", "--batch-size", "8",
                 "--no-progress", "--out", str(out)]) == 0
    pipe = aigc.load(str(out), device="cpu")
    assert pipe.objective.config.schedule_kind == "cosine" and pipe.num_classes == 0
    assert pipe.generate(2, steps=3).shape == (2, 1, 8, 8)


def test_diagnostics_hook_logs_the_class_histogram(tmp_path):
    class Fixed:  # a "classifier" that calls every image class 1
        has_classifier = True

        def probs(self, images):
            return torch.nn.functional.one_hot(torch.ones(len(images), dtype=torch.long), 4).double()

    obj = DDPMObjective(DDPMConfig(**SMALL, num_classes=4, diag_features="fixed", diag_every=2, diag_samples=8, diag_steps=2))
    obj._diag_extractor = Fixed()
    tcfg = TrainConfig(steps=4, batch_size=8, device="cpu", log_every=1, progress=False)
    Trainer(obj, tcfg, tmp_path / "m", meta={"task": "image-gen", "architecture": "ddpm"}).fit(toy_data())
    rows = read_metrics(tmp_path / "m")
    assert "diag_classes" not in rows[0] and rows[1]["diag_classes"] == 1.0
    assert rows[1]["diag_p1"] == 1.0 and rows[1]["diag_cond_acc"] == pytest.approx(0.25)
    assert rows[1]["diag_class_kl"] == pytest.approx(math.log(4))
