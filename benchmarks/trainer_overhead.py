"""Time per step of the Trainer against a bare hand-written PyTorch loop on the same DCGAN.

Both loops train the same DCGAN (same init, data, batch, optimizers) for the same steps, alternating
in rounds so that machine noise hits both alike. The Trainer runs as users run it (progress bar off
to keep the terminal quiet here, JSONL log on, checkpoint at the end; no EMA, as the bare loop has
none). Writes ``benchmarks/results/trainer_overhead.json``.

    python benchmarks/trainer_overhead.py [--steps 200] [--rounds 3] [--image-size 32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine  # noqa: E402

from aigc.core.atomic import atomic_write_json  # noqa: E402
from aigc.data.images import load_image_source  # noqa: E402
from aigc.image_gen.dcgan import DCGANObjective, DCGANConfig  # noqa: E402
from aigc.train import TrainConfig, Trainer  # noqa: E402


def bare_loop(objective: DCGANObjective, images: torch.Tensor, steps: int, batch: int, lr: float) -> float:
    """The loop one writes by hand: shuffle, D step, G step. Returns seconds per step."""
    G, D = objective.nets["generator"], objective.nets["discriminator"]
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    perm, pos = torch.randperm(len(images), generator=gen), 0
    start = time.perf_counter()
    for _ in range(steps):
        if pos + batch > len(images):
            perm, pos = torch.randperm(len(images), generator=gen), 0
        real = images[perm[pos:pos + batch]] * 2 - 1
        pos += batch
        z = torch.randn(batch, objective.config.latent_dim, generator=gen)
        fake = G(z)
        d_real, d_fake = D(real), D(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_logits = D(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    return (time.perf_counter() - start) / steps


def trainer_loop(objective: DCGANObjective, images: torch.Tensor, steps: int, batch: int, lr: float, out: Path) -> float:
    cfg = TrainConfig(steps=steps, batch_size=batch, lr=lr, progress=False, checkpoint_every=steps, device="cpu")
    trainer = Trainer(objective, cfg, out, meta={"task": "image-gen", "architecture": "dcgan"})
    trainer.preview = None  # the bare loop draws no sample grid either
    start = time.perf_counter()
    trainer.fit({"images": images})
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "trainer_overhead.json"))
    args = p.parse_args()
    images = load_image_source("digits", image_size=args.image_size).images
    cfg = DCGANConfig(image_size=args.image_size, g_features=128, d_features=128)
    bare, ours = [], []
    for r in range(args.rounds):
        for which in (("bare", "ours") if r % 2 == 0 else ("ours", "bare")):
            torch.manual_seed(0)
            objective = DCGANObjective(cfg)
            if which == "bare":
                bare.append(bare_loop(objective, images, args.steps, args.batch_size, 2e-4))
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    ours.append(trainer_loop(objective, images, args.steps, args.batch_size, 2e-4, Path(tmp)))
            print(f"round {r} {which}: {(bare if which == 'bare' else ours)[-1] * 1000:.2f} ms/step", flush=True)
    result = {
        "ratio": statistics.median(ours) / statistics.median(bare),
        "trainer_s_per_step": statistics.median(ours),
        "bare_s_per_step": statistics.median(bare),
        "rounds": {"trainer": ours, "bare": bare},
        "setup": {"model": "dcgan", "image_size": args.image_size, "batch_size": args.batch_size,
                  "steps_per_round": args.steps, "data": "digits", "g_features": 128, "d_features": 128},
        "machine": machine(),
        "command": command(),
        "note": "medians over rounds, bare and Trainer alternating; Trainer time includes its final checkpoint",
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("ratio", "trainer_s_per_step", "bare_s_per_step")}, indent=2))


if __name__ == "__main__":
    main()
