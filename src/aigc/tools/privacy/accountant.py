"""Privacy accounting for DP-SGD: Rényi DP of the sampled Gaussian mechanism.

The RDP of one step that adds Gaussian noise of multiplier ``sigma`` to a Poisson sample of rate
``q`` is computed as in Mironov, Talwar & Zhang (2019), "Rényi Differential Privacy of the Sampled
Gaussian Mechanism" (sec. 3.3: the binomial sum for integer orders, the two erfc series for
fractional ones); T steps compose additively. The conversion to (epsilon, delta) is the tighter one
of Balle et al. (2020), Theorem 21, as Opacus and TF Privacy use. The orders are Opacus' default
grid, so the two accountants agree (``tests/tools/privacy`` checks it).

Pure numpy/scipy: no torch, no Opacus.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special

__all__ = [
    "DEFAULT_ORDERS",
    "RDPAccountant",
    "epsilon",
    "epsilon_from_rdp",
    "rdp_sampled_gaussian",
    "solve_noise_multiplier",
]

# Opacus' RDPAccountant default: 1.1 .. 10.9 in steps of 0.1, then 12 .. 63
DEFAULT_ORDERS: tuple[float, ...] = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))


def _log_add(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def _log_sub(a: float, b: float) -> float:
    """log(exp(a) - exp(b)) for a >= b."""
    if b == -math.inf:
        return a
    if a == b:
        return -math.inf
    return a + math.log(-math.expm1(b - a))


def _log_erfc(x: float) -> float:
    return math.log(2.0) + special.log_ndtr(-x * math.sqrt(2.0))


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    """log E[(mu(z)/mu0(z))^alpha] for integer alpha: the binomial expansion (sec. 3.3, eq. 3)."""
    log_a = -math.inf
    for i in range(alpha + 1):
        log_coef = (special.gammaln(alpha + 1) - special.gammaln(i + 1) - special.gammaln(alpha - i + 1)
                    + i * math.log(q) + (alpha - i) * math.log1p(-q))
        log_a = _log_add(log_a, log_coef + (i * i - i) / (2 * sigma ** 2))
    return log_a


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    """The same for fractional alpha: two convergent series split at z0 (sec. 3.3)."""
    log_a0, log_a1 = -math.inf, -math.inf
    z0 = sigma ** 2 * math.log(1 / q - 1) + 0.5
    i = 0
    while True:
        coef = special.binom(alpha, i)
        log_coef = math.log(abs(coef))
        j = alpha - i
        log_t0 = log_coef + i * math.log(q) + j * math.log1p(-q)
        log_t1 = log_coef + j * math.log(q) + i * math.log1p(-q)
        log_e0 = math.log(0.5) + _log_erfc((i - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (i * i - i) / (2 * sigma ** 2) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * sigma ** 2) + log_e1
        if coef > 0:
            log_a0, log_a1 = _log_add(log_a0, log_s0), _log_add(log_a1, log_s1)
        else:
            log_a0, log_a1 = _log_sub(log_a0, log_s0), _log_sub(log_a1, log_s1)
        i += 1
        if max(log_s0, log_s1) < -30:
            return _log_add(log_a0, log_a1)


def rdp_sampled_gaussian(q: float, sigma: float, orders: Sequence[float] = DEFAULT_ORDERS) -> np.ndarray:
    """RDP epsilon of ONE step at each order: (len(orders),)."""
    if not 0 <= q <= 1:
        raise ValueError(f"sample rate must be in [0, 1], got {q}")
    return np.array(_rdp_cached(float(q), float(sigma), tuple(float(a) for a in orders)))


@functools.lru_cache(maxsize=256)
def _rdp_cached(q: float, sigma: float, orders: tuple[float, ...]) -> tuple[float, ...]:
    out = np.empty(len(orders))
    for k, alpha in enumerate(orders):
        if q == 0:
            out[k] = 0.0
        elif sigma == 0:
            out[k] = math.inf
        elif q == 1.0:
            out[k] = alpha / (2 * sigma ** 2)
        elif float(alpha).is_integer():
            out[k] = _log_a_int(q, sigma, int(alpha)) / (alpha - 1)
        else:
            out[k] = _log_a_frac(q, sigma, float(alpha)) / (alpha - 1)
    return tuple(out.tolist())


def epsilon_from_rdp(rdp: np.ndarray, delta: float, orders: Sequence[float] = DEFAULT_ORDERS
                     ) -> tuple[float, float]:
    """(epsilon, best order) from total RDP, by Balle et al. (2020), Theorem 21."""
    orders_arr = np.asarray(orders, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        eps = rdp - (math.log(delta) + np.log(orders_arr)) / (orders_arr - 1) + np.log((orders_arr - 1) / orders_arr)
    if np.isnan(eps).all():
        return math.inf, math.nan
    best = int(np.nanargmin(eps))
    return float(eps[best]), float(orders_arr[best])


def epsilon(history: Sequence[tuple[float, float, int]], delta: float,
            orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """Epsilon after a schedule of ``(noise_multiplier, sample_rate, steps)`` phases."""
    total = np.zeros(len(orders))
    for sigma, q, steps in history:
        total = total + steps * rdp_sampled_gaussian(q, sigma, orders)
    return epsilon_from_rdp(total, delta, orders)[0]


def solve_noise_multiplier(target_epsilon: float, delta: float, sample_rate: float, steps: int, *,
                           tolerance: float = 1e-3, orders: Sequence[float] = DEFAULT_ORDERS) -> float:
    """The smallest noise multiplier (to ``tolerance`` in epsilon) whose epsilon after ``steps``
    steps at ``sample_rate`` stays <= ``target_epsilon`` (bisection; epsilon falls with sigma)."""
    if target_epsilon <= 0 or not 0 < delta < 1:
        raise ValueError(f"need epsilon > 0 and 0 < delta < 1, got {target_epsilon}, {delta}")
    per_step = lambda s: epsilon([(s, sample_rate, steps)], delta, orders)
    low, high = 0.0, 1.0
    while per_step(high) > target_epsilon:
        low, high = high, high * 2
        if high > 1e4:
            raise ValueError(f"epsilon {target_epsilon} is out of reach for {steps} steps at rate {sample_rate}")
    while True:
        mid = (low + high) / 2
        if per_step(mid) > target_epsilon:
            low = mid
        else:
            high = mid
        if target_epsilon - per_step(high) < tolerance or high - low < 1e-7:
            return high


@dataclass
class RDPAccountant:
    """Tracks the steps taken at each (noise multiplier, sample rate); JSON state."""

    history: list[list[float]] = field(default_factory=list)  # [[sigma, q, steps], ...]
    orders: tuple[float, ...] = DEFAULT_ORDERS

    def step(self, sigma: float, q: float, n: int = 1) -> None:
        if self.history and self.history[-1][0] == sigma and self.history[-1][1] == q:
            self.history[-1][2] += n
        else:
            self.history.append([float(sigma), float(q), int(n)])

    @property
    def steps(self) -> int:
        return int(sum(h[2] for h in self.history))

    def epsilon(self, delta: float, extra_steps: int = 0) -> float:
        history = [tuple(h) for h in self.history]
        if extra_steps and history:
            sigma, q, n = history[-1]
            history[-1] = (sigma, q, n + extra_steps)
        return epsilon(history, delta, self.orders) if history else 0.0  # type: ignore[arg-type]

    def state_dict(self) -> dict:
        return {"history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.history = [[float(h[0]), float(h[1]), int(h[2])] for h in state.get("history", [])]
