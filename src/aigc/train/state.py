"""Checkpoints for exact resume, without pickle.

``train_state/step-XXXXXXXX/`` holds ``model.safetensors`` (networks + EMA), ``optim.safetensors``
(optimizer tensors), ``rng-rankR.safetensors`` (RNG states) and ``state.json`` (step, optimizer
scalars and param groups, data position, scaler). The folder is written under a temporary name and
renamed, then ``train_state/latest`` is replaced atomically: a crash mid-save leaves the previous
checkpoint intact and ``latest`` pointing at it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping

import torch

from aigc.core.atomic import atomic_write_bytes, fsync_dir
from aigc.core.errors import BadInputError
from aigc.core.modeldir import load_weights, save_weights

__all__ = [
    "flatten_optimizer", "unflatten_optimizer", "latest_checkpoint", "step_dir_name",
    "commit_checkpoint", "prune_checkpoints", "read_state", "rng_state", "set_rng_state",
]


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def flatten_optimizer(state: Mapping[str, Any], prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer ``state_dict`` into tensors (for safetensors) and JSON-safe rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any],
                        prefix: str) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entry)
    p = prefix + "."
    for name, value in tensors.items():
        if name.startswith(p):
            pid, key = name[len(p):].split(".", 1)
            state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    out = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def set_rng_state(states: Mapping[str, torch.Tensor], generator: torch.Generator) -> None:
    torch.set_rng_state(states["torch"].cpu())
    generator.set_state(states["generator"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"].cpu())


def latest_checkpoint(root: Path) -> Path | None:
    pointer = root / "latest"
    if not pointer.is_file():
        return None
    path = root / pointer.read_text(encoding="utf-8").strip()
    if not (path / "state.json").is_file():
        raise BadInputError(f"{pointer} points at {path.name}, which is missing or incomplete")
    return path


def commit_checkpoint(tmp: Path, final: Path) -> None:
    """Rename a fully written temporary checkpoint folder into place and point ``latest`` at it."""
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    fsync_dir(final.parent)
    atomic_write_bytes(final.parent / "latest", (final.name + "\n").encode())


def prune_checkpoints(root: Path, keep: int) -> None:
    steps = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for tmp in root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def read_state(path: Path, rank: int, device: torch.device) -> tuple[dict, dict, dict, dict]:
    """Return (state.json, model tensors, optimizer tensors, this rank's RNG tensors)."""
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    weights = load_weights(path / "model.safetensors", device=device)
    optim_file = path / "optim.safetensors"  # absent when the optimizers keep no tensors (plain SGD)
    optim = load_weights(optim_file, device=device) if optim_file.is_file() else {}
    rng_file = path / f"rng-rank{rank}.safetensors"
    if not rng_file.is_file():
        raise BadInputError(f"{path} has no RNG state for rank {rank}: resume with the same number "
                            f"of processes as the original run")
    return state, weights, optim, load_weights(rng_file)


def write_rng(folder: Path, rank: int, generator: torch.Generator) -> None:
    save_weights(folder / f"rng-rank{rank}.safetensors", rng_state(generator))
