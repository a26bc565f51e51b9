"""Models fitted in one pass over the data (sufficient statistics, closed forms) instead of by
gradient steps, and their differential privacy: each statistic is released once through the
Gaussian mechanism, and the releases are accounted exactly in Gaussian differential privacy.

A Gaussian mechanism of L2 sensitivity Δ and noise σ is μ-GDP with μ = Δ / σ; k of them compose to
sqrt(μ1² + ... + μk²)-GDP, exactly (Dong, Roth & Su 2019, "Gaussian Differential Privacy",
Corollary 3.3), and μ-GDP is (ε, δ(ε))-DP for every ε with
δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2) (their Corollary 2.13; Balle & Wang 2018's analytic
Gaussian mechanism). So a fit that releases its statistics once spends exactly the target ε: the
noise is solved for it, and no composition slack is lost as with Rényi bounds.

Neighbouring data sets differ by adding or removing one example (as Opacus assumes for DP-SGD).
Pure numpy/scipy for the accounting; torch for the noise (a seeded generator: the same seed gives
the same model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from scipy import optimize, stats

from aigc.core.errors import BadInputError

__all__ = ["StatisticsRelease", "check_shares", "clip_rows", "gdp_delta", "gdp_epsilon", "gdp_mu"]


def gdp_delta(epsilon: float, mu: float) -> float:
    """δ at which a μ-GDP mechanism is (ε, δ)-DP."""
    if mu <= 0:
        return 0.0
    return float(stats.norm.cdf(-epsilon / mu + mu / 2) - math.exp(epsilon) * stats.norm.cdf(-epsilon / mu - mu / 2))


def gdp_epsilon(mu: float, delta: float) -> float:
    """The smallest ε at which a μ-GDP mechanism is (ε, δ)-DP."""
    if mu <= 0 or gdp_delta(0.0, mu) <= delta:
        return 0.0
    hi = 1.0
    while gdp_delta(hi, mu) > delta:
        hi *= 2
    return float(optimize.brentq(lambda e: gdp_delta(e, mu) - delta, 0.0, hi, xtol=1e-12))


def gdp_mu(epsilon: float, delta: float) -> float:
    """The largest μ whose μ-GDP mechanism is (ε, δ)-DP: the whole budget of a fit."""
    if not epsilon > 0 or not 0 < delta < 1:
        raise BadInputError(f"need epsilon > 0 and 0 < delta < 1, got epsilon={epsilon}, delta={delta}")
    hi = 1.0
    while gdp_delta(epsilon, hi) < delta:
        hi *= 2
    return float(optimize.brentq(lambda m: gdp_delta(epsilon, m) - delta, 1e-9, hi, xtol=1e-12))


def clip_rows(x: torch.Tensor, norm: float) -> torch.Tensor:
    """Rows of ``x`` (N, D) scaled down to L2 norm at most ``norm`` (the sensitivity bound)."""
    scale = (norm / x.norm(dim=1).clamp_min(1e-12)).clamp(max=1.0)
    return x * scale[:, None]


class StatisticsRelease:
    """Releases a fit's statistics: exactly without privacy options, else each with Gaussian noise.

    ``privacy`` holds the ``dp`` training options (``epsilon``, ``delta``); ``shares`` names each
    release and its share of the squared GDP budget μ², e.g. ``{"basis": 0.25, "means": 0.75}``.
    ``add(name, value, sensitivity)`` returns ``value`` plus noise of σ = sensitivity / μ_name;
    ``symmetric=True`` noises a symmetric matrix's upper triangle and mirrors it (its sensitivity is
    the Frobenius norm of one example's contribution, as in Dwork et al. 2014's "Analyze Gauss").
    """

    def __init__(self, privacy: Mapping[str, Any] | None, shares: Mapping[str, float], *,
                 generator: torch.Generator) -> None:
        self.private = privacy is not None
        self.generator = generator
        self.shares = check_shares(list(shares.values()), list(shares))
        self.released: dict[str, dict[str, float]] = {}
        if not self.private:
            return
        self.epsilon, self.delta = float(privacy["epsilon"]), float(privacy["delta"])
        self.mu = gdp_mu(self.epsilon, self.delta)

    def add(self, name: str, value: torch.Tensor, sensitivity: float, *, symmetric: bool = False) -> torch.Tensor:
        if not self.private:
            return value
        if name not in self.shares or name in self.released:
            raise ValueError(f"release {name!r} is not planned or was already made (shares: {sorted(self.shares)})")
        mu = self.mu * math.sqrt(self.shares[name])
        sigma = sensitivity / mu
        noise = torch.randn(value.shape, generator=self.generator, dtype=torch.float64).to(value.dtype) * sigma
        if symmetric:
            if value.ndim < 2 or value.shape[-1] != value.shape[-2]:
                raise ValueError(f"symmetric release {name!r} needs square matrices, got {tuple(value.shape)}")
            upper = torch.triu(noise)
            noise = upper + torch.triu(noise, diagonal=1).transpose(-1, -2)
        self.released[name] = {"sensitivity": float(sensitivity), "sigma": float(sigma), "mu": float(mu)}
        return value + noise

    def spent_mu(self) -> float:
        return math.sqrt(sum(r["mu"] ** 2 for r in self.released.values()))

    def describe(self) -> dict[str, Any] | None:
        """What config.json records under ``extensions.dp`` (None without privacy)."""
        if not self.private:
            return None
        mu = self.spent_mu()
        return {"epsilon": round(gdp_epsilon(mu, self.delta), 6), "delta": self.delta,
                "target_epsilon": self.epsilon, "mu": round(mu, 6), "steps": 1,
                "mechanism": "gaussian, one release per statistic",
                "accountant": "gdp (Dong, Roth & Su 2019), exact for composed Gaussian mechanisms",
                "releases": self.released}


def check_shares(shares: Sequence[float], names: Sequence[str]) -> dict[str, float]:
    """``names`` -> ``shares`` as a dict, each share > 0, summing to at most 1 (a config check)."""
    if len(shares) != len(names) or any(not s > 0 for s in shares) or sum(shares) > 1 + 1e-9:
        raise ValueError(f"{len(names)} budget shares ({', '.join(names)}) > 0 summing to at most 1 are "
                         f"required, got {list(shares)}")
    return dict(zip(names, (float(s) for s in shares)))
