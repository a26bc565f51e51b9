"""The ``adversarial`` training extension's flags and factory (light: nothing heavy imported).
The extension itself is :mod:`aigc.tools.robust.adversarial`."""

from __future__ import annotations

import argparse
from typing import Any

from aigc.core.errors import BadInputError

__all__ = ["SPEC"]

METHODS = ("pgd", "trades", "fgsm-rs")


class AdversarialSpec:
    title = "adversarial training (any classifier)"

    @staticmethod
    def add_args(group: Any) -> None:
        group.add_argument("--adversarial", choices=METHODS, default=None,
                           help="train on attacks: pgd (Madry et al. 2018), trades (Zhang et al. 2019) or "
                                "fgsm-rs (fast FGSM with random start, Wong et al. 2020), e.g. --adversarial pgd --eps 0.3")
        group.add_argument("--eps", type=float, default=0.3, help="adversarial: L-inf radius in pixels [0, 1]")
        group.add_argument("--adv-steps", type=int, default=10, help="adversarial: PGD/TRADES attack steps")
        group.add_argument("--adv-alpha", type=float, default=None,
                           help="adversarial: step size (default 2.5 eps/steps; fgsm-rs 1.25 eps)")
        group.add_argument("--trades-beta", type=float, default=6.0, help="adversarial: TRADES weight (paper: 6)")

    @staticmethod
    def options(args: argparse.Namespace) -> dict[str, Any] | None:
        if getattr(args, "adversarial", None) is None:
            return None
        if not 0 < args.eps <= 1:
            raise BadInputError(f"--eps must be in (0, 1], got {args.eps}")
        if args.adv_steps < 1:
            raise BadInputError(f"--adv-steps must be >= 1, got {args.adv_steps}")
        return {"method": args.adversarial, "eps": float(args.eps), "steps": int(args.adv_steps),
                "alpha": args.adv_alpha, "beta": float(args.trades_beta)}

    @staticmethod
    def build(options: dict[str, Any]) -> Any:
        from aigc.tools.robust.adversarial import AdversarialTraining

        return AdversarialTraining(options)


SPEC = AdversarialSpec()
