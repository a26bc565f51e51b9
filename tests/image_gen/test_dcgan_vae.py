"""The tests every model gets, for DCGAN and the VAE, plus their Pipeline."""

import pytest
import torch

import aigc
from aigc.core.artifacts import read_png_metadata
from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator
from aigc.data.images import load_image_source
from aigc.image_gen.dcgan import DCGANObjective, DCGANConfig
from aigc.image_gen.vae import VAEObjective, VAEConfig
from aigc.train import TrainConfig, Trainer
from aigc.train.trainer import read_metrics

SIZES = [8, 16, 32]


def build(arch, size, channels=1):
    torch.manual_seed(0)
    if arch == "dcgan":
        return DCGANObjective(DCGANConfig(image_size=size, channels=channels, g_features=32, d_features=32, latent_dim=8))
    return VAEObjective(VAEConfig(image_size=size, channels=channels, features=32, latent_dim=4))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(size, channels):
    gan = build("dcgan", size, channels)
    img = gan.nets["generator"](torch.randn(2, 8))
    assert img.shape == (2, channels, size, size) and img.abs().max() <= 1
    assert gan.nets["discriminator"](img).shape == (2,)
    vae = build("vae", size, channels)
    mu, logvar = vae.nets["encoder"](torch.rand(2, channels, size, size))
    assert mu.shape == logvar.shape == (2, 4)
    assert vae.nets["decoder"](mu).shape == (2, channels, size, size)


class Ctx:
    """Collects the losses ``training_step`` hands to the Trainer, without stepping."""

    def __init__(self, nets):
        self.generator, self.raw, self.losses = make_generator(0), nets, {}
        self.device = torch.device("cpu")

    def optimize(self, name, loss):
        self.losses[name] = loss


@pytest.mark.parametrize("arch", ["dcgan", "vae"])
def test_finite_loss_and_gradients_reach_every_parameter(arch):
    obj = build(arch, 16)
    batch = {"images": torch.rand(4, 1, 16, 16)}
    ctx = Ctx(obj.nets)
    out = obj.training_step(obj.nets, batch, ctx)
    losses = ctx.losses or {"all": out["loss"]}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for name, net in obj.nets.items():
        for pname, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{pname}"


def train(arch, out, steps=30, size=16):
    data = load_image_source("digits", image_size=size)
    obj = build(arch, size)
    cfg = TrainConfig(steps=steps, batch_size=32, lr=2e-3 if arch == "vae" else 2e-4, progress=False,
                      log_every=5, ema_decay=0.9 if arch == "dcgan" else None)
    Trainer(obj, cfg, out, meta={"task": "image-gen", "architecture": arch}).fit({"images": data.images})
    return data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for arch in ("dcgan", "vae"):
        train(arch, root / arch)
    return root


@pytest.mark.parametrize("arch", ["dcgan", "vae"])
def test_training_lowers_the_loss(arch, trained):
    rows = read_metrics(trained / arch)
    key = "loss" if arch == "vae" else "d_loss"
    assert rows[-1][key] < rows[0][key]


@pytest.mark.parametrize("arch", ["dcgan", "vae"])
def test_save_load_and_seeded_generation(arch, trained, tmp_path):
    pipe = aigc.load(str(trained / arch), device="cpu")
    a, b = pipe.generate(6, seed=1), pipe.generate(6, seed=1)
    assert a.shape == (6, 1, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a, pipe.generate(6, seed=2))
    # batching never changes the latents (conv kernels may round differently per batch size)
    torch.testing.assert_close(pipe.generate(6, seed=1, batch_size=4), a, rtol=1e-5, atol=1e-6)
    # the pipeline's networks reproduce the training objective's EMA / live networks exactly
    again = aigc.load(str(trained / arch), device="cpu")
    assert torch.equal(again.generate(3, seed=5), pipe.generate(3, seed=5))
    paths = pipe.save(a, tmp_path / "grid.png", seed=1, n=6)
    meta = read_png_metadata(paths[0])
    assert meta["model_id"] == pipe.model_id and meta["seed"] == 1 and meta["architecture"] == arch
    assert len(pipe.save(a, tmp_path / "each", seed=1)) == 6


def test_dcgan_pipeline_uses_ema_weights(trained):
    from aigc.core.modeldir import load_weights, split_prefix

    weights = load_weights(trained / "dcgan" / "model.safetensors")
    pipe = aigc.load(str(trained / "dcgan"), device="cpu")
    ema = split_prefix(weights, "ema.generator")
    for k, v in pipe.nets["generator"].state_dict().items():
        assert torch.equal(v, ema[k])


def test_vae_reconstruct_and_interpolate(trained):
    pipe = aigc.load(str(trained / "vae"), device="cpu")
    x = load_image_source("digits", split="test", image_size=16).images[:4]
    rec = pipe.reconstruct(x)
    assert rec.shape == x.shape
    path = pipe.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, 1, 16, 16)
    torch.testing.assert_close(path[0], rec[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(path[-1], rec[1], atol=1e-5, rtol=1e-5)
    gan = aigc.load(str(trained / "dcgan"), device="cpu")
    with pytest.raises(BadInputError, match="needs an encoder"):
        gan.reconstruct(x)
    with pytest.raises(BadInputError):
        pipe.generate(0)


def test_bad_config_values_are_rejected():
    with pytest.raises(BadInputError, match="8, 16, 32 or 64"):
        DCGANConfig(image_size=12)
    with pytest.raises(ValueError, match="channels"):
        VAEConfig(channels=2)


def test_conditional_vae_decodes_the_asked_class():
    """The label reaches the decoder: for the same z, different labels give different images, the
    same label the same image; a conditional VAE without labels is refused in one line."""
    torch.manual_seed(0)
    vae = VAEObjective(VAEConfig(image_size=8, features=16, latent_dim=4, num_classes=3))
    nets = vae.nets
    z = torch.randn(2, 4)
    same = vae.decode(nets, z, labels=torch.tensor([1, 1]))
    assert torch.equal(same, vae.decode(nets, z, labels=torch.tensor([1, 1])))
    assert not torch.allclose(same, vae.decode(nets, z, labels=torch.tensor([2, 2])))
    g = make_generator(0, "cpu")
    assert vae.sample(nets, g, n=5, labels=2).shape == (5, 1, 8, 8)
    with pytest.raises(BadInputError, match="needs labels"):
        vae.decode(nets, z)
    with pytest.raises(BadInputError, match="not class-conditional"):
        VAEObjective(VAEConfig(image_size=8, features=16)).sample(nets, g, n=2, labels=1)


def _mixture_moments(w, mu, cov):
    mean = (w[:, None] * mu).sum(0)
    second = (w[:, None, None] * (cov + mu[:, :, None] * mu[:, None, :])).sum(0)
    return mean, second - mean[:, None] * mean[None, :]


def test_latent_prior_is_the_mixture_scikit_learn_fits_and_samples_its_moments():
    from sklearn.mixture import GaussianMixture

    torch.manual_seed(0)
    vae = VAEObjective(VAEConfig(image_size=8, features=16, latent_dim=3, prior_components=3))
    images = load_image_source("digits", image_size=8).images[:600]
    figures = vae.fit_prior(vae.nets, images, seed=0)
    assert figures["prior_components"] == 3
    with torch.no_grad():
        z = vae.nets["encoder"](images)[0].double().numpy()
    ref = GaussianMixture(3, covariance_type="full", reg_covar=1e-6, random_state=0, max_iter=200).fit(z)
    prior = vae.nets["decoder"].prior
    assert prior.fitted
    torch.testing.assert_close(prior.weights.double(), torch.from_numpy(ref.weights_), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(prior.means.double(), torch.from_numpy(ref.means_), rtol=1e-4, atol=1e-5)
    cov = prior.scale_tril.double() @ prior.scale_tril.double().transpose(1, 2)
    torch.testing.assert_close(cov, torch.from_numpy(ref.covariances_), rtol=1e-4, atol=1e-6)
    # draws follow the mixture: sample mean and covariance against its closed-form moments
    draws = prior.sample(60_000, torch.Generator().manual_seed(1)).double()
    mean, var = _mixture_moments(torch.from_numpy(ref.weights_), torch.from_numpy(ref.means_),
                                 torch.from_numpy(ref.covariances_))
    scale = var.diagonal().sqrt()
    assert ((draws.mean(0) - mean).abs() / scale).max() < 0.02
    torch.testing.assert_close(torch.cov(draws.T), var, rtol=0.03, atol=0.03 * float(var.diagonal().max()))
    # a tiny dataset fits fewer components (two images each) instead of failing after training
    small = VAEObjective(VAEConfig(image_size=8, features=16, latent_dim=3, prior_components=3))
    assert small.fit_prior(small.nets, images[:4], seed=0)["prior_components"] == 2
    assert (small.nets["decoder"].prior.weights > 0).sum() == 2
    assert small.fit_prior(small.nets, images[:1], seed=0) == {}


def test_a_vae_saved_without_a_prior_loads_and_samples_the_standard_normal():
    vae = build("vae", 8)
    old = {k: v for k, v in vae.nets["decoder"].state_dict().items() if not k.startswith("prior.")}
    fresh = build("vae", 8)
    fresh.nets["decoder"].load_state_dict(old, strict=True)  # a model directory from before the prior
    assert not fresh.nets["decoder"].prior.fitted
    expected = fresh.decode(fresh.nets, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(fresh.sample(fresh.nets, torch.Generator().manual_seed(0), n=3), expected)


def test_cli_trained_vae_samples_from_its_fitted_prior(tmp_path):
    from aigc.cli import main

    out = tmp_path / "vae"
    assert main(["train", "image-gen", "--arch", "vae", "--data", "digits", "--image-size", "8", "--features", "16",
                 "--latent-dim", "4", "--steps", "3", "--no-progress", "--out", str(out)]) == 0
    pipe = aigc.load(str(out), device="cpu")
    prior = pipe.nets["decoder"].prior
    assert prior.fitted and prior.weights.shape == (20,) and abs(float(prior.weights.sum()) - 1) < 1e-6
    z = prior.sample(5, torch.Generator().manual_seed(0))
    assert torch.equal(pipe.generate(5, seed=0), pipe.objective.decode(pipe.nets, z))
