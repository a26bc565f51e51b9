"""WGAN-GP, SN-GAN (hinge), LSGAN and the class-conditional GAN: losses against closed forms, the
gradient penalty, critic steps, per-model checks, save/load, labels and prompts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import aigc
from aigc.core.errors import BadInputError
from aigc.core.registry import architecture
from aigc.image_gen.gan_losses import d_loss, g_loss, gradient_penalty
from aigc.train import TrainConfig, Trainer
from aigc.train.trainer import read_metrics

ARCHS = ["wgan-gp", "sngan", "lsgan", "cgan"]
SMALL = {"image_size": 8, "g_features": 16, "d_features": 16, "latent_dim": 8}


def make(arch: str, **kw):
    cls = architecture("image-gen", arch)
    torch.manual_seed(0)
    return cls(cls.config_class(**{**SMALL, **kw}))


def digits(n: int = 40):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    images = torch.rand(n, 1, 8, 8, generator=g) * 0.2
    for i, y in enumerate(labels.tolist()):  # a class-dependent bright bar: learnable in a few steps
        images[i, 0, y % 8, :] = 1.0
    return {"images": images, "labels": labels}


def test_losses_match_closed_forms():
    r, f = torch.tensor([2.0, -0.5, 0.3]), torch.tensor([-1.5, 0.7, 0.0])
    assert torch.isclose(d_loss("wgan", r, f), f.mean() - r.mean())
    hinge = torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean()
    assert torch.isclose(d_loss("hinge", r, f), hinge)
    assert torch.isclose(d_loss("lsgan", r, f), 0.5 * (((r - 1) ** 2).mean() + (f ** 2).mean()))
    ns = -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean())
    assert torch.isclose(d_loss("ns", r, f), ns)
    assert torch.isclose(g_loss("hinge", f), -f.mean()) and torch.isclose(g_loss("wgan", f), -f.mean())
    assert torch.isclose(g_loss("lsgan", f), 0.5 * ((f - 1) ** 2).mean())
    with pytest.raises(ValueError):
        d_loss("nope", r, f)


@pytest.mark.parametrize("precision", [torch.float32, torch.bfloat16])
def test_gradient_penalty_of_a_linear_critic(precision):
    # D(x) = <w, x>: the gradient is w everywhere, so GP = (||w|| - 1)^2 exactly.
    w = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.rand(5, 1, 4, 4), torch.rand(5, 1, 4, 4)
    with torch.autocast("cpu", dtype=precision, enabled=precision != torch.float32):
        gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    expected = (w.detach().norm() - 1) ** 2
    assert torch.isclose(gp, expected, rtol=1e-5)
    gp.backward()  # create_graph=True: the penalty reaches the critic's parameters
    assert torch.allclose(w.grad, 2 * (w.norm() - 1) * w / w.norm(), rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_and_gradients_reach_every_parameter(arch):
    obj = make(arch)
    g, d = obj.nets["generator"], obj.nets["discriminator"]
    k = obj.config.num_classes
    y = torch.arange(4) % 10 if k else None
    fake = g(torch.randn(4, 8), y)
    assert fake.shape == (4, 1, 8, 8) and fake.abs().max() <= 1
    real = torch.rand(4, 1, 8, 8) * 2 - 1
    scores = d(fake.detach(), y)
    assert scores.shape == (4,)
    loss = d_loss(obj.config.loss, d(real, y), scores)
    if obj.config.gp_weight:
        loss = loss + gradient_penalty(lambda x: d(x, y), real, fake)
    loss.backward()
    gl = g_loss(obj.config.loss, d(g(torch.randn(4, 8), y), y))
    assert torch.isfinite(loss) and torch.isfinite(gl)
    g.zero_grad()
    gl.backward(inputs=list(g.parameters()))
    for net in (g, d):
        # grads exist everywhere; the critic's output bias cancels exactly in the Wasserstein loss and
        # (all scores inside the margin at init) in the hinge loss, so only it may be zero
        missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
                   or (not p.grad.abs().sum() > 0 and n != "head.bias")]
        assert not missing, missing


def test_paper_defaults():
    w = make("wgan-gp")
    assert (w.config.n_critic, w.config.gp_weight, w.config.beta1, w.config.beta2) == (5, 10.0, 0.0, 0.9)
    assert type(w).default_lr == 1e-4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in w.nets["discriminator"].modules())
    sn = make("sngan").nets["discriminator"]
    convs = [m for m in sn.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    with pytest.raises(ValueError, match="batch norm"):
        architecture("image-gen", "wgan-gp").config_class(d_norm="batch")


class CountingCtx:
    """A stand-in StepContext that records optimize calls and batch sizes."""

    def __init__(self, obj):
        self.generator, self.device, self.raw = torch.Generator().manual_seed(0), torch.device("cpu"), obj.nets
        self.step = 0
        self.calls: list[str] = []
        self.losses: list[float] = []

    def optimize(self, name, loss):
        assert torch.isfinite(loss)
        self.calls.append(name)
        self.losses.append(float(loss.detach()))


def test_n_critic_chunks_the_batch():
    obj = make("wgan-gp")
    ctx = CountingCtx(obj)
    seen = []
    d = obj.nets["discriminator"]
    hook = d.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    logs = obj.training_step(obj.nets, digits(20), ctx)
    hook.remove()
    assert ctx.calls == ["discriminator"] * 5 + ["generator"]
    # 5 critic steps on chunks of 4 (real, fake, penalty each), then one G step on 4 fakes
    assert seen == [4] * 16 and set(logs) >= {"d_loss", "g_loss", "gp", "w_dist"}


def test_lazy_penalty_runs_on_every_kth_critic_update_with_k_times_the_weight():
    from aigc.image_gen.gan_losses import d_loss, gradient_penalty

    obj = make("wgan-gp", n_critic=2, gp_every=3)
    d = obj.nets["discriminator"]
    seen = []
    hook = d.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    ctx = CountingCtx(obj)
    penalised = []
    for step in range(3):  # critic updates 0..5: the penalty on updates 0 and 3
        ctx.step, before = step, len(seen)
        logs = obj.training_step(obj.nets, digits(8), ctx)
        penalised.append(len(seen) - before - 1 - 2 * 2)  # minus the G step and real + fake per update
        assert ("gp" in logs) == (penalised[-1] > 0)
    hook.remove()
    assert penalised == [1, 1, 0]
    # the penalised update's loss is the critic loss + gp_weight x gp_every x penalty, on the same draws
    obj2 = make("wgan-gp", n_critic=1, gp_every=4)
    batch = digits(8)
    ctx2 = CountingCtx(obj2)
    obj2.training_step(obj2.nets, batch, ctx2)  # ctx2 draws from a generator seeded 0; redo its draws
    gen = torch.Generator().manual_seed(0)
    real, _ = obj2._inputs(batch, type("C", (), {"generator": gen, "device": torch.device("cpu")})())
    z = torch.randn(8, obj2.config.latent_dim, generator=gen)
    with torch.no_grad():
        fake = obj2.nets["generator"](z, None)
    dl = d_loss("wgan", obj2.nets["discriminator"](real, None), obj2.nets["discriminator"](fake, None))
    gp = gradient_penalty(lambda x: obj2.nets["discriminator"](x, None), real, fake, gen)
    assert ctx2.losses[0] == pytest.approx(float(dl + 10.0 * 4 * gp), rel=1e-4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("gans")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for arch in ARCHS:
            tcfg = TrainConfig(steps=12, batch_size=40 if arch == "wgan-gp" else 20, lr=1e-3, device="cpu",
                               seed=0, log_every=1, progress=False, ema_decay=0.9)
            meta = {"task": "image-gen", "architecture": arch,
                    "data": {"source": "toy", "class_names": [f"c{i}" for i in range(10)]}}
            Trainer(make(arch), tcfg, root / arch, meta=meta).fit(digits())
    finally:
        torch.set_num_threads(threads)
    return root


@pytest.mark.parametrize("arch", ARCHS)
def test_a_few_steps_lower_the_critic_loss(arch, trained):
    rows = read_metrics(trained / arch)
    first = sum(r["d_loss"] for r in rows[:3]) / 3
    last = sum(r["d_loss"] for r in rows[-3:]) / 3
    assert last < first


@pytest.mark.parametrize("arch", ARCHS)
def test_save_load_and_seeded_generation(arch, trained):
    pipe = aigc.load(str(trained / arch), device="cpu")
    a = pipe.generate(6, seed=3)
    assert a.shape == (6, 1, 8, 8) and torch.equal(a, pipe.generate(6, seed=3))
    assert not torch.equal(a, pipe.generate(6, seed=4))
    assert torch.allclose(pipe.generate(6, seed=3, batch_size=4), a, atol=1e-5)
    obj = make(arch)  # the live objective with the saved EMA weights gives the same images
    from aigc.core.modeldir import load_weights, split_prefix

    weights = load_weights(trained / arch / "model.safetensors")
    obj.nets["generator"].load_state_dict(split_prefix(weights, "ema.generator"))
    obj.nets["generator"].eval()
    assert torch.equal(obj.sample(obj.nets, torch.Generator().manual_seed(3), n=6), a)


def test_conditional_labels_and_prompts(trained):
    pipe = aigc.load(str(trained / "cgan"), device="cpu")
    assert pipe.num_classes == 10 and pipe.label_for("C7") == 7
    with pytest.raises(BadInputError, match="c0, c1"):
        pipe.label_for("seven")
    a, b = pipe.generate(4, seed=0, labels=2), pipe.generate(4, seed=0, labels=[2, 2, 2, 2])
    assert torch.equal(a, b) and not torch.equal(a, pipe.generate(4, seed=0, labels=5))
    for bad in (10, -1, [1, 2]):
        with pytest.raises(BadInputError):
            pipe.generate(4, labels=bad)
    uncond = aigc.load(str(trained / "sngan"), device="cpu")
    with pytest.raises(BadInputError, match="conditional"):
        uncond.generate(2, labels=1)
    with pytest.raises(BadInputError, match="diffusion"):
        uncond.generate(2, steps=10)


def test_projection_discriminator_uses_the_label():
    obj = make("cgan")
    d = obj.nets["discriminator"].eval()
    x = torch.rand(3, 1, 8, 8)
    h = d.body(x).flatten(1)
    y = torch.tensor([0, 4, 9])
    expected = d.head(h).squeeze(1) + (d.embed(y) * h).sum(1)
    assert torch.allclose(d(x, y), expected, atol=1e-6)
    assert not torch.allclose(d(x, y), d(x, (y + 1) % 10))
    assert F.mse_loss(d(x, y), d(x, y)) == 0


def test_conditional_batch_norm_is_a_per_class_scale_and_shift():
    from aigc.image_gen.gan import ConditionalBatchNorm2d

    cbn = ConditionalBatchNorm2d(3, num_classes=5)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        cbn.scale.weight.copy_(torch.randn(5, 3, generator=g))
        cbn.shift.weight.copy_(torch.randn(5, 3, generator=g))
    x, y = torch.randn(6, 3, 4, 4, generator=g) * 3 + 1, torch.tensor([0, 4, 4, 2, 1, 0])
    mean, var = x.mean((0, 2, 3), keepdim=True), x.var((0, 2, 3), unbiased=False, keepdim=True)
    expected = ((x - mean) / torch.sqrt(var + 1e-5)) * cbn.scale.weight[y][:, :, None, None] \
        + cbn.shift.weight[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)
    # every batch norm of a conditional generator is a conditional one (no class embedding on z)
    obj = make("cgan")
    gen = obj.nets["generator"]
    assert any(isinstance(m, ConditionalBatchNorm2d) for m in gen.modules())
    assert not any(type(m) is torch.nn.BatchNorm2d for m in gen.layers)
