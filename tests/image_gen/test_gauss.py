"""The per-class Gaussian in PCA space: its fitted statistics against numpy's eigh, mean and cov;
its samples; the private fit (noise, budget, determinism) and its command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aigc.cli import main
from aigc.core.seed import make_generator
from aigc.image_gen.gauss import GaussConfig, GaussObjective
from aigc.train.release import StatisticsRelease, gdp_mu


def toy_data(n_per_class: int = 300, seed: int = 0) -> dict[str, torch.Tensor]:
    """Three classes of 6x6 images: a bright square in a different corner per class, plus noise."""
    g = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for c, (r, q) in enumerate([(0, 0), (0, 3), (3, 0)]):
        x = 0.1 * torch.rand(n_per_class, 1, 6, 6, generator=g)
        x[:, :, r:r + 3, q:q + 3] += 0.6 + 0.3 * torch.rand(n_per_class, 1, 1, 1, generator=g)
        images.append(x.clamp(0, 1))
        labels.append(torch.full((n_per_class,), c))
    return {"images": torch.cat(images), "labels": torch.cat(labels)}


def fit(config: GaussConfig, data, privacy=None, seed: int = 0):
    obj = GaussObjective(config)
    release = StatisticsRelease(privacy, obj.privacy_shares(), generator=make_generator(seed))
    logs = obj.fit(obj.networks(), data, release)
    return obj, release, logs


def test_exact_fit_equals_numpy_pca_and_class_statistics():
    data = toy_data()
    cfg = GaussConfig(image_size=6, channels=1, latent_dim=5, num_classes=3, var_floor=1e-9)
    obj, _, logs = fit(cfg, data)
    model = obj.nets["model"]
    x = data["images"].flatten(1).double().numpy()
    y = data["labels"].numpy()
    _, vecs = np.linalg.eigh(x.T @ x)
    top = vecs[:, ::-1][:, :5]
    basis = model.basis.double().numpy()
    assert np.allclose(np.abs(np.sum(basis * top, axis=0)), 1.0, atol=1e-4)  # the same axes, up to sign
    z = x @ basis
    for c in range(3):
        zc = z[y == c]
        assert np.allclose(model.mean[c].numpy(), zc.mean(0), atol=1e-4)
        f = model.factor[c].double().numpy()
        cov = np.cov(zc.T, bias=True)
        assert np.allclose(f @ f.T, cov, rtol=1e-3, atol=1e-7), c
    assert 0.9 < logs["second_moment_kept"] <= 1.0


def test_samples_follow_their_class_and_the_seed():
    data = toy_data()
    cfg = GaussConfig(image_size=6, channels=1, latent_dim=5, num_classes=3)
    obj, _, _ = fit(cfg, data)
    labels = torch.arange(3).repeat_interleave(50)
    a = obj.sample(obj.nets, make_generator(1), n=150, batch_size=64, labels=labels)
    b = obj.sample(obj.nets, make_generator(1), n=150, batch_size=64, labels=labels)
    assert a.shape == (150, 1, 6, 6) and torch.equal(a, b) and 0 <= float(a.min()) and float(a.max()) <= 1
    centres = torch.stack([data["images"][data["labels"] == c].mean(0).flatten() for c in range(3)])
    nearest = torch.cdist(a.flatten(1), centres).argmin(1)
    assert torch.equal(nearest, labels)


def test_private_fit_spends_the_budget_adds_noise_and_repeats_with_its_seed():
    data = toy_data()
    cfg = GaussConfig(image_size=6, channels=1, latent_dim=5, num_classes=3, clip=3.0)
    exact, _, _ = fit(cfg, data)
    private, release, _ = fit(cfg, data, {"epsilon": 2.0, "delta": 1e-5}, seed=3)
    again, _, _ = fit(cfg, data, {"epsilon": 2.0, "delta": 1e-5}, seed=3)
    spent = release.describe()
    assert spent["epsilon"] == pytest.approx(2.0, rel=1e-6) and spent["mu"] == pytest.approx(gdp_mu(2.0, 1e-5))
    assert set(spent["releases"]) == {"basis", "counts", "sums", "moments"}
    assert spent["releases"]["moments"]["sensitivity"] == pytest.approx(9.0)  # clip^2
    assert spent["releases"]["sums"]["sensitivity"] == pytest.approx(3.0)
    m_exact, m_private = exact.nets["model"].mean, private.nets["model"].mean
    assert not torch.allclose(m_exact.abs(), m_private.abs(), atol=1e-4)  # noise was added
    assert all(torch.equal(p, q) for p, q in zip(private.nets["model"].state_dict().values(),
                                                  again.nets["model"].state_dict().values()))


def argv(out, *extra: str) -> list[str]:
    return ["train", "image-gen", "--arch", "gauss", "--data", "digits", "--cond", "--image-size", "8",
            "--latent-dim", "12", "--no-progress", "--out", str(out), *extra]


def test_cli_fits_generates_and_records_the_privacy_spent(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(argv(out, "--dp-epsilon", "8")) == 0
    config = json.loads((out / "config.json").read_text())
    dp = config["extensions"]["dp"]
    assert dp["epsilon"] == pytest.approx(8.0, rel=1e-6) and dp["steps"] == 1 and "gdp" in dp["accountant"]
    assert main(["generate", str(out), "--prompt", "seven", "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    capsys.readouterr()
    assert main(argv(out, "--resume")) == 2  # one pass: nothing to resume, and a refit would spend again
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.parametrize("extra,message", [(("--hflip", "--dp-epsilon", "8"), "doubles what one example"),
                                           (("--augment", "hflip"), "does not apply"),
                                           (("--latent-dim", "100"), "latent_dim")])
def test_cli_refuses_what_does_not_fit_in_one_line(tmp_path, capsys, extra, message):
    assert main(argv(tmp_path / "g", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "g" / "config.json").exists()


def test_example_loss_is_the_gaussian_negative_log_likelihood():
    from scipy import stats

    data = toy_data()
    cfg = GaussConfig(image_size=6, channels=1, latent_dim=4, num_classes=3, var_floor=1e-6)
    obj, _, _ = fit(cfg, data)
    model = obj.nets["model"]
    batch = {"images": data["images"][::50], "labels": data["labels"][::50]}
    loss = obj.example_loss(obj.nets, batch).double().numpy()
    z = (batch["images"].flatten(1) @ model.basis).double().numpy()
    ref = []
    for zi, c in zip(z, batch["labels"].tolist()):
        f = model.factor[c].double().numpy()
        ref.append(-stats.multivariate_normal(model.mean[c].double().numpy(), f @ f.T).logpdf(zi))
    ref = np.asarray(ref)
    assert np.allclose(loss - loss[0], ref - ref[0], rtol=1e-3, atol=1e-3)  # equal up to the constant


def test_membership_audit_scores_a_one_pass_model(tmp_path):
    from aigc.tools.privacy.membership import audit_privacy

    out = tmp_path / "g"
    assert main(argv(out)) == 0
    report = audit_privacy(str(out), members="train", holdout="test", n=100, samples=50)
    assert 0.0 <= report["membership"]["loss_threshold"]["auc"] <= 1.0
    assert report["copy_detection"]["median_distance_to_train"] > 0
