"""Helpers shared by the studio tests."""

from __future__ import annotations

from pathlib import Path

from aigc.core.registry import task


def command_output(model_dir: Path, params: dict, out: Path) -> bytes:
    """The bytes the task's own ``aigc generate MODEL`` function writes for ``params`` (no server)."""
    from aigc.core.modeldir import read_config
    from aigc.core.registry import resolve

    t = task(read_config(model_dir)["task"])
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in params.items()] + [f"--out={out}", "--device=cpu"]
    args = resolve(t.generate_parser)(str(model_dir)).parse_args(argv)
    args.func(args)
    return out.read_bytes()



def same_png(served: bytes, alone: Path, argv_head: list[str] | None = None) -> bool:
    """Whether PNG bytes ``served`` hold the pixels and recipe of the file ``alone``, the record of the
    command line that made each (``replay``, which names its own output path) aside. With ``argv_head``,
    the served file's replay record (when this aigc writes one) must start with it: the request's own
    command, not the server's."""
    import numpy as np
    from PIL import Image

    from aigc.core.artifacts import read_recipe

    copy = alone.with_name("served-" + alone.name)
    copy.write_bytes(served)
    recipe_a, recipe_b = read_recipe(copy), read_recipe(alone)
    replay = recipe_a.pop("replay", None)
    recipe_b.pop("replay", None)
    if argv_head is not None and replay is not None and replay["argv"][:len(argv_head)] != argv_head:
        return False
    a, b = np.asarray(Image.open(copy)), np.asarray(Image.open(alone))
    return a.shape == b.shape and bool((a == b).all()) and recipe_a == recipe_b
