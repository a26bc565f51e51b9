"""The ``dp`` training extension's flags and factory (light: nothing heavy is imported here, so
``aigc train --help`` stays fast). The extension itself is :mod:`aigc.tools.privacy.dp`."""

from __future__ import annotations

import argparse
from typing import Any

from aigc.core.errors import BadInputError

__all__ = ["LOAD_HOOK", "SPEC", "DPSpec"]


class DPSpec:
    title = "differential privacy: DP-SGD on Opacus (any task)"

    @staticmethod
    def add_args(group: Any) -> None:
        group.add_argument("--dp-epsilon", type=float, default=None, metavar="EPS",
                           help="train with DP-SGD to this privacy budget; the noise is solved for it over "
                                "--steps, e.g. --dp-epsilon 3 --dp-delta 1e-5 --max-grad-norm 1.0")
        group.add_argument("--dp-delta", type=float, default=1e-5, metavar="DELTA",
                           help="DP delta (default 1e-5; keep it below 1/N of the training set)")
        group.add_argument("--max-grad-norm", type=float, default=1.0, metavar="C",
                           help="DP: clip each example's gradient to this L2 norm (default 1.0)")
        group.add_argument("--dp-networks", default=None, metavar="NAMES",
                           help="DP: comma-separated networks to privatise (default: those that see the data; "
                                "a GAN's discriminator, not its generator; a VAE's encoder and decoder)")

    @staticmethod
    def options(args: argparse.Namespace) -> dict[str, Any] | None:
        if getattr(args, "dp_epsilon", None) is None:
            return None
        eps, delta, clip = args.dp_epsilon, args.dp_delta, args.max_grad_norm
        if not eps > 0:
            raise BadInputError(f"--dp-epsilon must be > 0, got {eps}")
        if not 0 < delta < 1:
            raise BadInputError(f"--dp-delta must be in (0, 1), got {delta}")
        if not clip > 0:
            raise BadInputError(f"--max-grad-norm must be > 0, got {clip}")
        networks = [n.strip() for n in args.dp_networks.split(",") if n.strip()] if args.dp_networks else None
        return {"epsilon": float(eps), "delta": float(delta), "max_grad_norm": float(clip), "networks": networks}

    @staticmethod
    def build(options: dict[str, Any]) -> Any:
        from aigc.tools.privacy.dp import DPExtension

        return DPExtension(options)



class DPLoadHook:
    """Named in config.json (``extensions.dp.load_hook``): ``aigc.load`` redoes the model check's
    conversions (BatchNorm -> GroupNorm) on the freshly built networks, so the weights load strictly."""

    @staticmethod
    def before_load(networks: dict[str, Any], config: dict[str, Any]) -> None:
        from aigc.tools.privacy.model_check import reapply_conversions

        reapply_conversions(networks, (config.get("extensions") or {}).get("dp", {}).get("converted", []))

    @staticmethod
    def after_load(nets: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        return nets


SPEC = DPSpec()
LOAD_HOOK = DPLoadHook()
