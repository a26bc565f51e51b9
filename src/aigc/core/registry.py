"""Plain-dict registries, name -> "module:Attribute", imported lazily.

Adding a model is one file plus one line here.
"""

from __future__ import annotations

import importlib
from typing import Any

from aigc.core.errors import BadInputError

__all__ = ["ARCHITECTURES", "PIPELINES", "EVALUATORS", "resolve", "architecture"]

# task -> architecture -> the objective class (its config_class builds the networks)
ARCHITECTURES: dict[str, dict[str, str]] = {
    "image-gen": {
        "dcgan": "aigc.image_gen.dcgan:DCGAN",
        "vae": "aigc.image_gen.vae:VAE",
        "wgan-gp": "aigc.image_gen.wgan:WGANGP",
        "sngan": "aigc.image_gen.sngan:SNGAN",
        "lsgan": "aigc.image_gen.lsgan:LSGAN",
        "cgan": "aigc.image_gen.cgan:CGAN",
        "ddpm": "aigc.image_gen.diffusion.ddpm:DDPM",
    },
    "restore": {
        "espcn": "aigc.restore.sr:ESPCN",
        "srresnet": "aigc.restore.sr:SRResNet",
        "srgan": "aigc.restore.srgan:SRGAN",
        "dncnn": "aigc.restore.denoise:DnCNN",
        "dae": "aigc.restore.denoise:DAE",
        "pconv": "aigc.restore.inpaint:PConv",
        "johnson": "aigc.restore.style:Johnson",
    },
    "text": {
        "gpt": "aigc.text.objective:GPTLM",
        "lstm": "aigc.text.objective:LSTMLanguageModel",
    },
}

# task -> Pipeline class that loads a model directory of that task
PIPELINES: dict[str, str] = {
    "image-gen": "aigc.image_gen.pipeline:ImageGenPipeline",
    "restore": "aigc.restore.pipeline:RestorePipeline",
    "text": "aigc.text.pipeline:TextPipeline",
}


# evaluations a task provides to `aigc eval` (metrics never imports a task directly)
EVALUATORS: dict[str, str] = {
    "text-perplexity": "aigc.text.evaluate:perplexity",
}


def resolve(target: str) -> Any:
    """Import ``"package.module:Attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def architecture(task: str, name: str) -> Any:
    """Return the class registered for ``task``/``name`` or raise a clear error listing choices."""
    if task not in ARCHITECTURES:
        raise BadInputError(f"unknown task {task!r}; known tasks: {sorted(ARCHITECTURES)}")
    table = ARCHITECTURES[task]
    if name not in table:
        raise BadInputError(f"unknown {task} architecture {name!r}; choose one of {sorted(table)}")
    return resolve(table[name])
