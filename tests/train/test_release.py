"""One-pass releases of statistics through the Gaussian mechanism, accounted in Gaussian DP: the
closed forms against a numerical integral of the Gaussian privacy-loss distribution, and the noise
that ``StatisticsRelease`` adds against the sigma it records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from aigc.core.errors import BadInputError
from aigc.train.release import StatisticsRelease, clip_rows, gdp_delta, gdp_epsilon, gdp_mu


def delta_by_integration(eps: float, mu: float) -> float:
    """delta(eps) = E[(1 - exp(eps - L))+] for the privacy loss L ~ N(mu^2/2, mu^2) of a Gaussian
    mechanism with sensitivity / sigma = mu (the definition, integrated numerically)."""
    loss = stats.norm(mu * mu / 2, mu)
    value, _ = integrate.quad(lambda x: (1 - math.exp(eps - x)) * loss.pdf(x), eps, mu * mu / 2 + 40 * mu, limit=200)
    return value


@pytest.mark.parametrize("eps,mu", [(0.5, 0.5), (1.0, 1.0), (3.0, 1.2), (10.0, 2.0)])
def test_gdp_delta_equals_the_integral_of_the_privacy_loss(eps, mu):
    assert gdp_delta(eps, mu) == pytest.approx(delta_by_integration(eps, mu), rel=1e-5, abs=1e-12)


def test_mu_and_epsilon_are_inverse():
    mu = gdp_mu(10.0, 1e-5)
    assert gdp_delta(10.0, mu) == pytest.approx(1e-5, rel=1e-8)
    assert gdp_epsilon(mu, 1e-5) == pytest.approx(10.0, rel=1e-8)
    assert gdp_mu(1.0, 1e-5) < gdp_mu(3.0, 1e-5) < mu  # more budget, less noise
    with pytest.raises(BadInputError):
        gdp_mu(0.0, 1e-5)


def test_exact_gdp_is_tighter_than_the_rdp_bound_of_the_same_gaussian():
    from aigc.tools.privacy.accountant import RDPAccountant

    sigma = 1.0  # one full-batch step (q = 1) of noise multiplier 1: a Gaussian mechanism with mu = 1
    acc = RDPAccountant()
    acc.step(sigma, 1.0)
    exact, rdp = gdp_epsilon(1 / sigma, 1e-5), acc.epsilon(1e-5)
    assert exact < rdp < 1.6 * exact, (exact, rdp)


def test_release_noise_has_the_recorded_sigma_and_composes_to_the_budget():
    g = torch.Generator().manual_seed(0)
    release = StatisticsRelease({"epsilon": 3.0, "delta": 1e-5}, {"a": 0.2, "b": 0.8}, generator=g)
    a = release.add("a", torch.zeros(200_000, dtype=torch.float64), 2.0)
    b = release.add("b", torch.zeros(400, 400, dtype=torch.float64), 5.0, symmetric=True)
    info = release.describe()
    sa, sb = info["releases"]["a"]["sigma"], info["releases"]["b"]["sigma"]
    assert sa == pytest.approx(2.0 / (release.mu * math.sqrt(0.2)))
    assert float(a.std()) == pytest.approx(sa, rel=0.01)
    assert torch.equal(b, b.T)  # symmetric noise: the upper triangle mirrored
    upper = b[torch.triu(torch.ones(400, 400, dtype=torch.bool))]
    assert float(upper.std()) == pytest.approx(sb, rel=0.02)
    assert info["epsilon"] == pytest.approx(3.0, rel=1e-6) and info["mu"] == pytest.approx(release.mu)
    with pytest.raises(ValueError):
        release.add("a", torch.zeros(3), 1.0)  # each statistic is released once


def test_without_privacy_values_pass_through():
    release = StatisticsRelease(None, {"a": 1.0}, generator=torch.Generator().manual_seed(0))
    x = torch.arange(5.0)
    assert release.add("a", x, 1.0) is x and release.describe() is None


def test_clip_rows_bounds_norms_and_keeps_short_rows():
    x = torch.tensor(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]]))
    out = clip_rows(x, 1.0)
    assert torch.allclose(out.norm(dim=1), torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64))
    assert torch.allclose(out[0], torch.tensor([0.6, 0.8], dtype=torch.float64))
