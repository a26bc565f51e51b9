"""``aigc replay FILE --model DIR``: rerun the command recorded in FILE's recipe into a temporary
folder, with the same model, seed and parameters, and compare the bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aigc.core.artifacts import read_recipe
from aigc.core.errors import BadInputError
from aigc.core.modeldir import model_id
from aigc.core.recipe import recording

__all__ = ["replay"]


def _regenerated_path(out: str, argv: list[str], tmp: Path) -> tuple[dict[str, str], Path]:
    """Where the rerun writes FILE: the argv element naming FILE (or a folder holding it) is
    redirected into ``tmp``; returns the rename map (real -> recorded) and the new file's path."""
    out_path = Path(out)
    for arg in argv:
        if arg and (arg == out or out_path.is_relative_to(arg)) and Path(arg) != Path("."):
            target = tmp / ("out" + Path(arg).suffix)
            return {str(target): arg}, target / out_path.relative_to(arg) if arg != out else target
    raise BadInputError(f"the recorded command {argv} does not name the output {out}; cannot replay it")


def _files(path: Path) -> list[Path]:
    sidecar = Path(str(path) + ".json")
    return [path, sidecar] if sidecar.is_file() else [path]


def replay(file: str | Path, model_dir: str | Path, *, keep: str | Path | None = None) -> dict[str, Any]:
    """Regenerate ``file`` with ``model_dir``; ``{"identical": bool, "message": str, ...}``."""
    from aigc.cli import main

    file = Path(file)
    recipe = read_recipe(file)
    record = recipe.get("replay")
    if not isinstance(record, dict) or not record.get("argv"):
        raise BadInputError(f"{file}: its recipe has no command to replay (it was written by the library, "
                            "not the aigc command line); regenerate it with the recorded parameters instead")
    if "model_id" in recipe and model_id(model_dir) != recipe["model_id"]:
        raise BadInputError(f"{model_dir} is model {model_id(model_dir)}, but {file} was made by model "
                            f"{recipe['model_id']}; give the model directory that made it")
    argv = [str(a) for a in record["argv"]]
    with tempfile.TemporaryDirectory(prefix="aigc-replay-") as tmp:
        rename, new_file = _regenerated_path(record["out"], argv, Path(tmp))
        real_argv = [next((real for real, shown in rename.items() if shown == a), a) for a in argv]
        if record.get("model"):
            real_argv = [str(model_dir) if a == record["model"] else a for a in real_argv]
            rename[str(model_dir)] = record["model"]
        with recording(argv, rename=rename):
            code = main(real_argv)
        if code != 0 or not new_file.is_file():
            raise BadInputError(f"replaying {' '.join(argv)} failed (exit {code}); nothing to compare")
        pairs = list(zip(_files(file), _files(new_file)))
        identical = all(a.read_bytes() == b.read_bytes() for a, b in pairs) and len(pairs) == len(_files(new_file))
        if keep:
            Path(keep).write_bytes(new_file.read_bytes())
    verdict = "byte-identical" if identical else "DIFFERENT bytes"
    return {"identical": identical, "argv": argv,
            "message": f"{file}: regenerated with `aigc {' '.join(argv)}`: {verdict}"}

