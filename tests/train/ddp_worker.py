"""Run under ``torchrun --nproc_per_node=N``: trains a tiny model and records every rank's weights."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigc.core.modeldir import save_weights  # noqa: E402
from aigc.train import TrainConfig, Trainer  # noqa: E402


def main(kind: str, out: str, batch_size: int) -> None:
    if kind == "linear":
        from helpers import LinearRegression, regression_data

        objective, data = LinearRegression(), regression_data()
        config = TrainConfig(steps=5, batch_size=batch_size, lr=0.05, progress=False, device="cpu")
    else:
        from aigc.data.images import load_image_source
        from aigc.image_gen.dcgan import DCGANObjective, DCGANConfig

        torch.manual_seed(0)
        objective = DCGANObjective(DCGANConfig(image_size=8, g_features=16, d_features=16, latent_dim=8))
        data = {"images": load_image_source("digits", image_size=8).images}
        config = TrainConfig(steps=4, batch_size=batch_size, progress=False, device="cpu", ema_decay=0.9)
    trainer = Trainer(objective, config, out)
    trainer.fit(data)
    flat = torch.cat([p.detach().flatten() for net in trainer.raw.values() for p in net.parameters()])
    rank = trainer.dist.rank
    save_weights(Path(out) / f"rank{rank}.safetensors", {"flat": flat})
    digest = hashlib.sha256(flat.numpy().tobytes()).hexdigest()
    (Path(out) / f"rank{rank}.sha").write_text(digest)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
