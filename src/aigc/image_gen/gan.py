"""A family of GANs on the DCGAN layout: one objective, the loss and the critic's normalisation
chosen by the config. ``wgan.py``, ``sngan.py``, ``lsgan.py`` and ``cgan.py`` fix the paper
defaults; this module holds the networks and the training step they share.

Class conditioning (``num_classes > 0``), as in Miyato & Koyama (2018): the generator's batch
norms become conditional batch norms (a per-class scale and shift after a shared normalisation),
and the discriminator is a projection discriminator, D(x, y) = psi(phi(x)) + <embed(y), phi(x)>
(their eq. 3). An earlier version concatenated a class embedding to z instead; with the projection
discriminator that generator learned to ignore z (every sample of a class the same image).

Critic steps (``n_critic > 1``, Gulrajani et al. 2017 use 5): the Trainer gives one batch per
training step, so the batch is split into ``n_critic`` equal chunks, one per critic update, and
the generator update uses a batch as large as one chunk. Train with ``--batch-size`` = chunk size
x ``n_critic`` (the wgan-gp CLI default is 64 x 5 = 320). With ``--accumulate K > 1`` the critic
gradients of all micro-steps are summed into one update per training step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

from aigc.core.errors import BadInputError
from aigc.data.transforms import from_signed, random_hflip, to_signed
from aigc.image_gen.blocks import (
    dcgan_init,
    down_stack,
    num_doublings,
    spectral_normalize,
    up_stack,
)
from aigc.image_gen.diagnostics import ClassHistogramProbe
from aigc.image_gen.gan_losses import LOSSES, d_loss, g_loss, gradient_penalty

__all__ = ["GANConfig", "ConditionalBatchNorm2d", "CondGenerator", "ProjectionDiscriminator", "AdversarialObjective",
           "sample_labels"]

D_NORMS = ("batch", "none", "spectral")


@dataclass(kw_only=True)
class GANConfig:
    image_size: int = 32
    channels: int = 1
    latent_dim: int = 64
    g_features: int = 128  # channels of the generator's 4x4 layer
    d_features: int = 128  # channels of the discriminator's 4x4 layer
    hflip: bool = False
    num_classes: int = 0  # 0 = unconditional
    loss: str = "ns"  # one of gan_losses.LOSSES
    d_norm: str = "batch"  # "batch" (DCGAN), "none" (WGAN-GP critic), "spectral" (SN-GAN)
    n_critic: int = 1  # discriminator updates per generator update
    gp_weight: float = 0.0  # gradient-penalty weight lambda (10 in Gulrajani et al. 2017)
    gp_every: int = 1  # lazy penalty: on every k-th critic update only, weighted k x (Karras et al. 2020)
    beta1: float = 0.5
    beta2: float = 0.999
    real_label: float = 1.0  # < 1: one-sided label smoothing of the "ns" loss (Salimans et al. 2016)
    diag_features: str = ""  # feature extractor for the class-histogram diagnostics ("" = off)
    diag_every: int = 0  # steps between diagnostics (0 = off)
    diag_samples: int = 500

    def __post_init__(self) -> None:
        num_doublings(self.image_size)
        checks = [
            (self.channels in (1, 3), f"channels must be 1 or 3, got {self.channels}"),
            (self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}"),
            (self.g_features >= 16 and self.d_features >= 16, "g_features and d_features must be >= 16"),
            (self.num_classes >= 0, f"num_classes must be >= 0, got {self.num_classes}"),
            (self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}"),
            (self.d_norm in D_NORMS, f"d_norm must be one of {D_NORMS}, got {self.d_norm!r}"),
            (self.n_critic >= 1, f"n_critic must be >= 1, got {self.n_critic}"),
            (0.5 < self.real_label <= 1.0, f"real_label must be in (0.5, 1], got {self.real_label}"),
            (self.real_label == 1.0 or self.loss == "ns", "real_label smoothing applies to the ns loss only"),
            (self.gp_weight >= 0, f"gp_weight must be >= 0, got {self.gp_weight}"),
            (self.gp_every >= 1, f"gp_every must be >= 1, got {self.gp_every}"),
            (not (self.gp_weight and self.d_norm == "batch"),
             "a gradient penalty needs a critic without batch norm (Gulrajani et al. 2017, sec. 4)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017; Miyato &
    Koyama 2018): (B, C, H, W), labels (B,) -> (B, C, H, W)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]


class CondGenerator(nn.Module):
    """z (B, latent_dim) [, labels (B,)] -> images (B, C, S, S) in [-1, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        w, k = config.g_features, config.num_classes
        project = [nn.Linear(config.latent_dim, w * 16, bias=False), nn.Unflatten(1, (w, 4, 4)),
                   nn.BatchNorm2d(w), nn.ReLU(True)]
        layers = project + list(up_stack(w, config.channels, num_doublings(config.image_size), norm=True))
        dcgan_init(nn.ModuleList(layers))
        if k:
            layers = [ConditionalBatchNorm2d(m.num_features, k) if isinstance(m, nn.BatchNorm2d) else m
                      for m in layers]
        self.layers = nn.ModuleList(layers)
        self.conditional = bool(k)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional and labels is None:
            raise ValueError("a class-conditional generator needs labels")
        h = z
        for m in self.layers:
            h = m(h, labels) if isinstance(m, ConditionalBatchNorm2d) else m(h)
        return torch.tanh(h)


class ProjectionDiscriminator(nn.Module):
    """images (B, C, S, S) in [-1, 1] [, labels (B,)] -> scores (B,)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.body, ch = down_stack(config.channels, config.d_features, num_doublings(config.image_size),
                                   norm=config.d_norm == "batch")
        self.head = nn.Linear(ch * 16, 1)
        self.embed = nn.Embedding(config.num_classes, ch * 16) if config.num_classes else None
        dcgan_init(self)
        if config.d_norm == "spectral":
            spectral_normalize(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x).flatten(1)
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a projection discriminator needs labels")
            out = out + (self.embed(labels) * h).sum(1)
        return out


def sample_labels(labels: torch.Tensor | int | list[int] | None, n: int, num_classes: int,
                  generator: torch.Generator | None, device: torch.device) -> torch.Tensor | None:
    """(n,) long labels for a conditional model: given ones broadcast, or uniform draws when None."""
    if not num_classes:
        if labels is not None:
            raise BadInputError("this model is not class-conditional; train it with --cond to use labels")
        return None
    if labels is None:
        return torch.randint(num_classes, (n,), generator=generator, device=device)
    t = torch.as_tensor(labels, dtype=torch.long, device=device).flatten()
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise BadInputError(f"got {t.numel()} labels for {n} images; give one label or one per image")
    if int(t.min()) < 0 or int(t.max()) >= num_classes:
        raise BadInputError(f"labels must lie in 0..{num_classes - 1}, got {t.tolist()[:10]}")
    return t


class AdversarialObjective(ClassHistogramProbe):
    """Objective: ``n_critic`` discriminator updates then one generator update per training step."""

    config_class = GANConfig
    ema_networks = ("generator",)
    sampling_network = "generator"
    default_lr: float | None = None  # CLI default when --lr is not given (None = the CLI's)
    default_batch_size: int | None = None

    def __init__(self, config: GANConfig) -> None:
        self.config = config
        self.nets = {"generator": CondGenerator(config), "discriminator": ProjectionDiscriminator(config)}

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]:
        betas = (self.config.beta1, self.config.beta2)
        return {name: torch.optim.Adam(nets[name].parameters(), lr=lr, betas=betas)
                for name in ("discriminator", "generator")}

    def _inputs(self, batch: Mapping[str, torch.Tensor], ctx) -> tuple[torch.Tensor, torch.Tensor | None]:
        real = batch["images"]
        if self.config.hflip:
            real = random_hflip(real, ctx.generator)
        labels = None
        if self.config.num_classes:
            if "labels" not in batch:
                raise BadInputError("a class-conditional GAN needs labelled data (the batch has no labels)")
            labels = batch["labels"]
        return to_signed(real), labels

    def _fake(self, g: nn.Module, n: int, labels: torch.Tensor | None, ctx) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=ctx.generator, device=ctx.device)
        return g(z, labels)

    def _critic_step(self, nets, real: torch.Tensor, labels: torch.Tensor | None, ctx,
                     fake: torch.Tensor | None = None, penalise: bool = True) -> dict[str, torch.Tensor]:
        if fake is None:
            with torch.no_grad():
                fake = self._fake(nets["generator"], real.shape[0], labels, ctx)
        fake = fake.detach()
        d = nets["discriminator"]
        d_real, d_fake = d(real, labels), d(fake, labels)
        loss = d_loss(self.config.loss, d_real, d_fake, self.config.real_label)
        out = {"d_loss": loss.detach(), "d_real": d_real.detach().float().mean(),
               "d_fake": d_fake.detach().float().mean()}
        if self.config.gp_weight and penalise:
            # The penalty runs through the unwrapped critic (DDP does not support double backward);
            # its parameter gradients join the same backward pass as the DDP loss, so they are
            # all-reduced together with it. A lazy penalty (gp_every k) weighs k x as much.
            gp = gradient_penalty(lambda x: ctx.raw["discriminator"](x, labels), real, fake, ctx.generator)
            loss = loss + self.config.gp_weight * self.config.gp_every * gp
            out["gp"] = gp.detach()
        ctx.optimize("discriminator", loss)
        return out

    def training_step(self, nets, batch, ctx) -> dict[str, torch.Tensor]:
        cfg = self.config
        real, labels = self._inputs(batch, ctx)
        if cfg.n_critic > 1:
            dev = real.device.type
            if torch.is_autocast_enabled(dev) and torch.get_autocast_dtype(dev) == torch.float16:
                raise BadInputError("n_critic > 1 does not work with --precision fp16 (one gradient-"
                                    "scaler update per step); use fp32 or bf16")
            if real.shape[0] < cfg.n_critic:
                raise BadInputError(f"batch size {real.shape[0]} is smaller than n_critic={cfg.n_critic}")
        chunks = real.tensor_split(cfg.n_critic)
        label_chunks = labels.tensor_split(cfg.n_critic) if labels is not None else [None] * cfg.n_critic
        y = label_chunks[-1]
        # With one critic step, D and G share one generator forward (as in DCGAN's reference loop).
        shared = self._fake(nets["generator"], real.shape[0], labels, ctx) if cfg.n_critic == 1 else None
        logs: dict[str, torch.Tensor] = {}
        penalties = []
        for i, (x, yc) in enumerate(zip(chunks, label_chunks)):
            penalise = cfg.gp_every == 1 or (ctx.step * cfg.n_critic + i) % cfg.gp_every == 0
            for k, v in self._critic_step(nets, x, yc, ctx, shared, penalise).items():
                if k == "gp":
                    penalties.append(v)
                else:
                    logs[k] = logs.get(k, 0.0) + v / cfg.n_critic
        if penalties:  # the mean penalty of the critic updates that had one
            logs["gp"] = torch.stack(penalties).mean()
        fake = shared if shared is not None else self._fake(nets["generator"], chunks[-1].shape[0], y, ctx)
        # The G step goes through the unwrapped D: D is not updated here, so DDP must not sync it.
        loss = g_loss(cfg.loss, ctx.raw["discriminator"](fake, y))
        ctx.optimize("generator", loss)
        logs["g_loss"] = loss.detach()
        if cfg.loss == "wgan":
            logs["w_dist"] = logs["d_real"] - logs["d_fake"]  # the critic's Wasserstein estimate
        return logs

    @torch.no_grad()
    def sample(self, nets: Mapping[str, nn.Module], generator: torch.Generator, n: int = 64,
               batch_size: int = 256, labels: torch.Tensor | int | list[int] | None = None) -> torch.Tensor:
        """(n, C, S, S) images in [0, 1]. Latents (then labels) are drawn first, so batching never
        changes them; a conditional model without ``labels`` draws them uniformly."""
        g = nets["generator"]
        device = next(g.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=device)
        y = sample_labels(labels, n, self.config.num_classes, generator, device)
        ys = y.split(batch_size) if y is not None else [None] * len(z.split(batch_size))
        return torch.cat([from_signed(g(zc, yc)) for zc, yc in zip(z.split(batch_size), ys)])
