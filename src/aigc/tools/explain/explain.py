"""``aigc explain`` behind the command line: pick the explanation a model supports, draw it.

- classifier or discriminator + an image: saliency, Integrated Gradients and occlusion maps;
- language model (a model directory with a tokenizer) + a text: per-token attributions of the next
  token and one attention map per layer (head-averaged);
- encoder (VAE) + a labelled image source: PCA and t-SNE maps of latents by class, and traversals.
Figures are drawn with matplotlib (Agg) and written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.core.atomic import atomic_path
from aigc.core.errors import BadInputError

__all__ = ["explain_image", "explain_latents", "explain_text", "read_image_input"]


def _save(fig: Any, out: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise BadInputError(f"--out {out}: give a .png file name")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def _figure(rows: int, cols: int, size: float = 2.6) -> tuple[Any, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    return fig, axes


def read_image_input(path: str | os.PathLike, channels: int, size: int) -> torch.Tensor:
    """An image file -> (1, C, S, S) in [0, 1], converted and resized to what the model reads."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, ValueError) as exc:
        raise BadInputError(f"--input {path}: not a readable image ({exc})") from exc
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())[None]


def explain_image(objective: Any, nets: dict, image: torch.Tensor, out: str | os.PathLike, *,
                  target: int | None = None, methods: tuple[str, ...] = ("saliency", "ig", "occlusion")) -> dict:
    """Attribution maps of one image; returns the numbers shown (score, IG completeness)."""
    from aigc.tools.explain.attribution import attribute, find_scorer

    scorer = find_scorer(objective, nets)
    image = image.to(next(iter(nets.values())).parameters().__next__().device)
    with torch.no_grad():
        scores = scorer.fn(image)[0]
    target = int(scores.argmax()) if target is None else int(target)
    if not 0 <= target < scores.numel():
        raise BadInputError(f"--target {target}: this model scores {scores.numel()} classes (0..{scores.numel() - 1})")
    name = scorer.class_names[target] if target < len(scorer.class_names) else str(target)
    fig, axes = _figure(1, len(methods) + 1)
    shown = image[0].detach().cpu().permute(1, 2, 0).squeeze(-1).numpy()
    axes[0, 0].imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
    axes[0, 0].set_title(f"{scorer.kind}: {name}\nscore {float(scores[target]):.2f}", fontsize=9)
    report: dict[str, Any] = {"kind": scorer.kind, "target": target, "target_name": name,
                              "score": float(scores[target])}
    for ax, method in zip(axes[0, 1:], methods):
        attr, info = attribute(scorer, image, method, target)
        heat = attr.sum(0).cpu().numpy()
        lim = float(np.abs(heat).max()) or 1.0
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
        ax.imshow(heat, cmap="bwr", vmin=-lim, vmax=lim, alpha=0.65)
        ax.set_title({"saliency": "saliency |grad|", "ig": "integrated gradients", "occlusion": "occlusion"}[method]
                     + ("\nred = toward 'fake'" if scorer.kind == "discriminator" else "\nred = toward class"),
                     fontsize=9)
        report[method] = {"max_abs": lim, **info}
    report["out"] = str(_save(fig, out))
    return report


def explain_text(objective: Any, net: torch.nn.Module, tokenizer: Any, prompt: str, out: str | os.PathLike) -> dict:
    """Token attributions of the next-token choice and head-averaged attention maps per layer."""
    from aigc.tools.explain.text import attention_maps, token_attributions

    ids = tokenizer.encode(prompt)[-48:]
    if len(ids) < 2:
        raise BadInputError("--input: give a prompt of at least two tokens")
    attr = token_attributions(objective, net, ids)
    maps = attention_maps(net, ids)
    labels = [tokenizer.decode([i]).replace("\n", "\\n") or "·" for i in ids]
    fig, axes = _figure(1, 1 + min(len(maps), 4), size=3.6)
    scores = attr["scores"].numpy()
    ax = axes[0, 0]
    ax.barh(range(len(ids)), scores, color=["tab:red" if s > 0 else "tab:blue" for s in scores])
    ax.set_yticks(range(len(ids)), labels, fontsize=7), ax.invert_yaxis()
    nxt = tokenizer.decode([attr["target"]]).replace("\n", "\\n")
    ax.set_title(f"why next = {nxt!r} (p {attr['probability']:.2f})\nIntegrated Gradients per token", fontsize=9)
    for j, m in enumerate(maps[:4]):
        a = axes[0, j + 1]
        a.imshow(m.mean(0).numpy(), cmap="viridis", vmin=0, vmax=1)
        a.set_title(f"attention, layer {j} (mean of heads)", fontsize=9)
        a.set_xticks(range(len(ids)), labels, fontsize=6, rotation=90), a.set_yticks(range(len(ids)), labels, fontsize=6)
    return {"tokens": labels, "next_token": nxt, "scores": scores.tolist(), "layers": len(maps),
            "completeness_error": attr["completeness_error"], "out": str(_save(fig, out))}


def explain_latents(objective: Any, nets: dict, images: torch.Tensor, labels: np.ndarray,
                    out: str | os.PathLike, *, seed: int = 0) -> dict:
    """PCA and t-SNE maps of latents coloured by class, and a latent traversal grid, in one figure."""
    from aigc.core.artifacts import make_grid
    from aigc.tools.explain.latents import encode_all, project, separation, traversal

    device = next(iter(nets.values())).parameters().__next__().device
    latents = encode_all(objective, nets, images.to(device))
    maps = project(latents, seed=seed)
    decoded = traversal(objective, nets, latents)
    fig, axes = _figure(1, 3, size=4.2)
    report: dict[str, Any] = {"n": len(latents), "latent_dim": int(latents.shape[1])}
    for ax, (name, pts) in zip(axes[0, :2], maps.items()):
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=labels, cmap="tab10", s=6)
        acc = separation(pts, labels)
        ax.set_title(f"{name.upper()} of latents by class\n1-NN accuracy in 2-D {acc:.0%}", fontsize=9)
        report[f"{name}_1nn_accuracy"] = acc
        report[f"{name}_std"] = pts.std(0).tolist()
    fig.colorbar(sc, ax=axes[0, 1], fraction=0.04)
    steps = 9
    grid = make_grid(decoded, nrow=steps)
    axes[0, 2].imshow(grid.squeeze(-1), cmap="gray" if grid.shape[-1] == 1 else None)
    axes[0, 2].set_title("traversal: rows = principal axes,\ncolumns = -3 .. +3 std", fontsize=9)
    report["out"] = str(_save(fig, out))
    return report
