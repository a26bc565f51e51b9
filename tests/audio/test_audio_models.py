"""The recogniser and the mel diffusion model: shapes, gradients reach every parameter, the
condition matters, a few steps lower the loss, same seed same sample."""

from __future__ import annotations

import torch

from aigc.audio.recognizer import RecognizerConfig, RecognizerObjective
from aigc.audio.synth import (
    MelDiffusionConfig,
    MelDiffusionObjective,
    cosine_alphas_cumprod,
    ddim_sample,
)


class _Ctx:
    def __init__(self, seed=0):
        self.generator = torch.Generator().manual_seed(seed)


def _tiny_recognizer(**kw):
    torch.manual_seed(0)
    return RecognizerObjective(RecognizerConfig(channels=4, clip_samples=1536, **kw))


def _tiny_synth():
    torch.manual_seed(0)
    return MelDiffusionObjective(MelDiffusionConfig(channels=16, mult=(1, 2), blocks=1, clip_samples=1920, n_mels=16,
                                                    timesteps=100))


def _wave_batch(n=12, t=1536):
    g = torch.Generator().manual_seed(1)
    digit = torch.arange(n) % 10
    tt = torch.arange(t) / 8000
    wave = torch.sin(2 * torch.pi * (200 + 150 * digit[:, None]) * tt) * 0.3 + 0.01 * torch.randn(n, t, generator=g)
    return {"wave": wave, "digit": digit, "speaker": torch.arange(n) % 6}


def test_recognizer_shapes_and_gradients():
    obj = _tiny_recognizer()
    batch = _wave_batch()
    d, s, f = obj.net(batch["wave"])
    assert d.shape == (12, 10) and s.shape == (12, 6) and f.shape == (12, 16)
    out = obj.training_step(obj.networks(), batch, _Ctx())
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in obj.net.parameters())


def test_recognizer_is_loudness_invariant():
    obj = _tiny_recognizer()
    obj.net.eval()
    wave = _wave_batch()["wave"]
    a = obj.predict(obj.networks(), wave)["digit_probs"]
    b = obj.predict(obj.networks(), wave * 0.1)["digit_probs"]
    torch.testing.assert_close(a, b, atol=1e-3, rtol=0)  # only the log floor differs


def test_recognizer_learns_a_tiny_batch():
    obj = _tiny_recognizer(noise_snr_db=(30.0, 40.0), spec_masks=0, dropout=0.0)
    nets, batch = obj.networks(), _wave_batch()
    opt = obj.configure_optimizers(nets, 3e-3)["recognizer"]
    first = None
    for step in range(30):
        loss = obj.training_step(nets, batch, _Ctx(step))["loss"]
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.7 * first


def test_cosine_schedule_closed_form():
    ac = cosine_alphas_cumprod(1000)
    f = lambda t: torch.cos(torch.tensor((t / 1000 + 0.008) / 1.008 * torch.pi / 2, dtype=torch.float64)) ** 2
    torch.testing.assert_close(ac[499], f(500) / f(0), rtol=1e-9, atol=0)
    assert (ac[1:] < ac[:-1]).all() and ac[-1] < 1e-3


def test_mel_diffusion_condition_gradients_and_loss():
    obj = _tiny_synth()
    cfg = obj.config
    assert cfg.frames == 16
    x = torch.randn(4, 16, 16, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([5, 50, 5, 50])
    net = obj.net.eval()
    base = net(x, t, torch.tensor([1, 1, 1, 1]), torch.tensor([0, 0, 0, 0]))
    assert base.shape == x.shape
    assert not torch.allclose(base, net(x, t, torch.tensor([2, 2, 2, 2]), torch.tensor([0, 0, 0, 0])))
    assert not torch.allclose(base, net(x, t, torch.tensor([1, 1, 1, 1]), torch.tensor([3, 3, 3, 3])))
    batch = {"mel": x.clamp(-1, 1), "digit": torch.tensor([0, 1, 2, 3]), "speaker": torch.tensor([0, 1, 2, 3])}
    net.train()
    loss = obj.training_step(obj.networks(), batch, _Ctx())["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_mel_diffusion_lowers_its_loss_and_samples_reproducibly():
    obj = _tiny_synth()
    nets = obj.networks()
    g = torch.Generator().manual_seed(2)
    mel = torch.tanh(torch.randn(8, 16, 1, generator=g)).expand(8, 16, 16).contiguous()
    batch = {"mel": mel, "digit": torch.arange(8) % 10, "speaker": torch.arange(8) % 6}
    opt = obj.configure_optimizers(nets, 2e-3)["denoiser"]
    losses = []
    for step in range(40):
        loss = obj.training_step(nets, batch, _Ctx(step % 4))["loss"]
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert sum(losses[-5:]) < 0.75 * sum(losses[:5])
    obj.net.eval()
    digits, speakers = torch.tensor([3, 7]), torch.tensor([0, 6])  # speaker 6 = "any speaker"
    a = ddim_sample(obj.net, obj.alphas_cumprod, digits, speakers, (16, 16), steps=5,
                    generator=torch.Generator().manual_seed(9))
    b = ddim_sample(obj.net, obj.alphas_cumprod, digits, speakers, (16, 16), steps=5,
                    generator=torch.Generator().manual_seed(9))
    assert a.shape == (2, 16, 16) and torch.equal(a, b)
    wave = obj.vocode(a, n_iter=4)
    assert wave.shape == (2, 1920) and torch.isfinite(wave).all()
    preview = obj.sample(obj.networks(), torch.Generator().manual_seed(0))
    assert preview.shape == (10, 1, 16, 16) and preview.min() >= 0 and preview.max() <= 1
