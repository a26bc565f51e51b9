"""The one training loop.

A task supplies an :class:`Objective`; the Trainer owns device, precision, gradient accumulation
and clipping, learning-rate schedule, EMA, checkpoint/exact resume, NaN guard, progress, the
JSONL metrics log, preview samples and DDP under ``torchrun``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from aigc import __version__
from aigc.core.atomic import atomic_write_json
from aigc.core.config import config_diff, config_to_dict
from aigc.core.device import autocast, check_precision, select_device
from aigc.core import progress
from aigc.core.errors import AigcError, BadInputError, NonFiniteLossError
from aigc.core.modeldir import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    save_weights,
    split_prefix,
    weights_metadata,
)
from aigc.core.seed import make_generator
from aigc.train import state as ckpt
from aigc.train.batcher import Batcher
from aigc.train.config import TrainConfig, lr_factor, schedule_progress
from aigc.train.distributed import DistInfo, barrier, init_distributed, sync_max
from aigc.train.ema import EMA
from aigc.train.extensions import build_extensions
from aigc.train.logging import MetricsLog, save_preview
from aigc.train.objective import Diagnoses, NetworksObjective, Samples

__all__ = ["Objective", "StepContext", "Trainer", "TrainingInterrupted", "TrainingCancelled"]


class TrainingInterrupted(AigcError):
    """Raised after Ctrl-C once the current step finished and a checkpoint was written; ``step`` is the
    checkpointed step (a server shows that, not its own folder)."""

    step: int | None = None


class TrainingCancelled(TrainingInterrupted, progress.Cancelled):
    """Raised when a progress reporter asked to stop; the current step finished and was checkpointed."""


def _fill_new_defaults(stored: Any, config: Any) -> None:
    """A model setting added to the architecture after ``stored`` was written counts as its default
    (so a model trained by an older aigc still resumes; it then trains with the current default)."""
    if not isinstance(stored, dict) or not dataclasses.is_dataclass(config):
        return
    for f in dataclasses.fields(config):
        if f.name in stored:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            continue
        stored[f.name] = json.loads(json.dumps(default))


class Objective(Protocol):
    """What a task gives the Trainer. Networks are pure modules; the objective holds the losses."""

    def networks(self) -> dict[str, nn.Module]: ...

    def configure_optimizers(self, nets: Mapping[str, nn.Module], lr: float) -> dict[str, torch.optim.Optimizer]: ...

    def training_step(self, nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor],
                      ctx: "StepContext") -> dict[str, torch.Tensor | float]: ...


class StepContext:
    """Passed to ``training_step``: the device, a seeded generator, and ``optimize(name, loss)``."""

    def __init__(self, trainer: "Trainer") -> None:
        self._t = trainer
        self.device = trainer.device
        self.generator = trainer.generator
        self.raw = trainer.raw  # unwrapped networks (e.g. a GAN's D inside the G step)
        self.step = 0
        self.last_micro = True
        self.optimized: set[str] = set()

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` for optimizer ``name``; step it on the last micro-batch."""
        self._t._backward_and_step(name, loss, self)
        self.optimized.add(name)


class Trainer:
    """Train ``objective`` into the model directory ``out_dir``.

    ``meta`` is written to config.json (task, architecture, model config, data spec) together with
    the training config; with ``resume=True`` the run continues from ``train_state/latest``.
    """

    def __init__(self, objective: Objective, config: TrainConfig, out_dir: str | Path, *,
                 meta: Mapping[str, Any] | None = None, resume: bool = False,
                 preview: Callable[..., torch.Tensor | None] | None = None,
                 save_extra: Callable[[Path], None] | None = None) -> None:
        self.objective, self.config, self.out_dir = objective, config, Path(out_dir)
        self.meta, self.resume = dict(meta or {}), resume
        if "model" not in self.meta and getattr(objective, "config", None) is not None:
            self.meta["model"] = config_to_dict(objective.config)
        self.preview = preview or (objective.sample if isinstance(objective, Samples) else None)
        self.save_extra = save_extra
        device = select_device(config.device)
        check_precision(config.precision, device)
        self.dist: DistInfo = init_distributed(device.type)
        if device.type == "cuda" and self.dist.enabled:
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        self.generator = make_generator(config.seed * 7919 + self.dist.rank, device)
        self.raw = {k: v.to(device) for k, v in objective.networks().items()}
        self.nets = dict(self.raw)
        self.extensions = build_extensions(config.extensions)
        for ext in self.extensions:  # before DDP and EMA see the networks (LoRA, BatchNorm -> GroupNorm)
            ext.prepare(self)  # may also wrap self.objective (distillation): read it from self below
        self.nets = {k: self._wrap(v) for k, v in self.raw.items()}
        self.optimizers = self._configure_optimizers(config)
        for ext in self.extensions:
            ext.after_optimizers(self)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self._params = {name: [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
                        for name, opt in self.optimizers.items()}
        ema_names = getattr(self.objective, "ema_networks", tuple(self.raw))
        self.ema = {k: EMA(self.raw[k], config.ema_decay) for k in ema_names if config.ema_decay}
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
        self.step = 0
        self._stop_requested = False
        # "cosine-time": the decay reached when this run started (a resumed run goes on from there
        # over its own time limit) and the share of the time limit spent so far
        self._progress_start, self._time_progress = 0.0, 0.0
        self._time_bar = config.schedule == "cosine-time"

    def _configure_optimizers(self, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        if config.optimizer == "adam":
            return self.objective.configure_optimizers(self.raw, config.lr)
        from aigc.train.muon import muon_optimizer

        if getattr(type(self.objective), "configure_optimizers", None) is not NetworksObjective.configure_optimizers:
            raise BadInputError(f"--optimizer {config.optimizer}: {type(self.objective).__name__} sets up its own "
                                "optimizers (betas, parameter groups or several networks); train it with the default "
                                "--optimizer adam")
        decay = getattr(getattr(self.objective, "config", None), "weight_decay", None) or 0.0
        return {name: muon_optimizer(self.raw[name], config.lr, betas=self.objective.adam_betas, weight_decay=decay)
                for name in self.objective.networks()}

    # ------------------------------------------------------------------ setup
    def _wrap(self, net: nn.Module) -> nn.Module:
        if not self.dist.enabled or not any(p.requires_grad for p in net.parameters()):
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(net, device_ids=ids)

    def _config(self) -> dict[str, Any]:
        out = {"aigc_version": __version__, **self.meta, "train": config_to_dict(self.config)}
        if self.extensions:
            out["extensions"] = {ext.name: ext.describe() for ext in self.extensions}
        return out

    def _check_config(self) -> None:
        """Refuse an ``out_dir`` holding another model, before anything is written."""
        path = self.out_dir / CONFIG_NAME
        if not path.exists():
            if self.resume:
                raise BadInputError(f"--resume: {self.out_dir} has no checkpoint to resume from (no {CONFIG_NAME})")
            return
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{path}: not valid JSON ({exc})") from exc
        new = json.loads(json.dumps(self._config()))  # tuples -> lists, as stored
        _fill_new_defaults(old.get("model"), getattr(self.objective, "config", None))
        keys = ["task", "architecture", "model"] + (["settings"] if "settings" in old else [])
        diffs = [d for key in keys for d in config_diff(old.get(key), new.get(key), key)]
        if diffs:
            raise BadInputError(f"{self.out_dir} already holds a different model ({'; '.join(diffs)}); "
                                f"use another --out, or --resume with only --out to keep its settings")
        if not self.resume and (self.out_dir / "train_state" / "latest").exists():
            raise BadInputError(f"{self.out_dir} already holds a trained model; pass --resume "
                                f"to continue it or choose another --out")

    def _write_config(self) -> None:
        atomic_write_json(self.out_dir / CONFIG_NAME, self._config())
        if self.save_extra is not None:
            self.save_extra(self.out_dir)

    # ------------------------------------------------------------------ step
    def _backward_and_step(self, name: str, loss: torch.Tensor, ctx: StepContext) -> None:
        if name not in self.optimizers:
            raise KeyError(f"objective has no optimizer {name!r}; it has {sorted(self.optimizers)}")
        if not torch.isfinite(loss.detach()).all():
            raise NonFiniteLossError(self._nan_message(name, loss))
        # inputs=: only this optimizer's parameters get gradients, so a GAN's G loss leaves D's
        # .grad untouched (and skips computing it).
        with torch.autocast(self.device.type, enabled=False):
            self.scaler.scale(loss / self.config.accumulate).backward(inputs=self._params[name])
        if not ctx.last_micro:
            return
        opt = self.optimizers[name]
        if self.config.grad_clip is not None:
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(self._params[name], self.config.grad_clip)
        self.scaler.step(opt)
        opt.zero_grad(set_to_none=True)

    def _nan_message(self, name: str, loss: torch.Tensor) -> str:
        last = ckpt.latest_checkpoint(self.out_dir / "train_state")
        kept = f"the last good checkpoint ({last.name}) is kept" if last else "no checkpoint was written yet"
        return (f"loss for optimizer {name!r} became {loss.detach().float().mean().item()} at step "
                f"{self.step + 1}; training stopped and {kept}. Try a lower --lr, --grad-clip or "
                f"--precision fp32")

    def _set_lr(self) -> None:
        factor = lr_factor(self.config, self.step, self._time_progress)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor

    def _schedule_progress(self) -> float:
        """The decay reached by the next step (see :func:`aigc.train.config.schedule_progress`)."""
        return schedule_progress(self.config, self.step, self._time_progress)

    def _no_sync(self, last: bool) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        if not last:
            for net in self.nets.values():
                if isinstance(net, DDP):
                    stack.enter_context(net.no_sync())
        return stack

    def _train_step(self, batcher: Batcher, ctx: StepContext) -> dict[str, float]:
        self._set_lr()
        for net in self.raw.values():
            net.train()
        logs: dict[str, float] = {}
        ctx.step = self.step
        for micro in range(self.config.accumulate):
            ctx.last_micro = micro == self.config.accumulate - 1
            ctx.optimized = set()
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batcher.next().items()}
            for ext in self.extensions:
                batch = ext.transform_batch(self, batch, ctx)
            with self._no_sync(ctx.last_micro), autocast(self.device, self.config.precision):
                out = self.objective.training_step(self.nets, batch, ctx)
            if not ctx.optimized:
                if "loss" not in out or len(self.optimizers) != 1:
                    raise TypeError("training_step must call ctx.optimize(...) or return "
                                    "{'loss': ...} with exactly one optimizer")
                ctx.optimize(next(iter(self.optimizers)), out["loss"])
            for k, v in out.items():
                val = float(v.detach().float().mean()) if torch.is_tensor(v) else float(v)
                logs[k] = logs.get(k, 0.0) + val / self.config.accumulate
        self.scaler.update()
        self.step += 1
        for name, ema in self.ema.items():
            ema.update(self.raw[name], self.step)
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(f"logged value(s) {bad} became non-finite at step {self.step}; "
                                     "training stopped and the last good checkpoint is kept")
        return logs

    # ------------------------------------------------------------------ checkpoints
    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {f"{n}.{k}": v for n, net in self.raw.items() for k, v in net.state_dict().items()}
        for n, ema in self.ema.items():
            out.update({f"ema.{n}.{k}": v for k, v in ema.module.state_dict().items()})
        return out

    def write_weights(self) -> None:
        """Write model.safetensors from the networks as they are now (after a post-training fit,
        e.g. a VAE's latent prior); the training checkpoint stays as the last step left it."""
        if self.dist.is_main:
            save_weights(self.out_dir / WEIGHTS_NAME, self._tensors(),
                         metadata={"step": str(self.step), "aigc_version": __version__})

    def save_checkpoint(self, batcher: Batcher) -> None:
        root = self.out_dir / "train_state"
        tmp = root / f".tmp-{ckpt.step_dir_name(self.step)}"
        if self.dist.is_main:
            root.mkdir(parents=True, exist_ok=True)
            self._write_config()  # config.json first: written only once a step has run
            if tmp.exists():
                import shutil
                shutil.rmtree(tmp)
            tmp.mkdir()
        barrier(self.dist)
        ckpt.write_rng(tmp, self.dist.rank, self.generator)
        barrier(self.dist)
        if self.dist.is_main:
            self._write_main_state(tmp, batcher)
            ckpt.commit_checkpoint(tmp, root / ckpt.step_dir_name(self.step))
            ckpt.prune_checkpoints(root, self.config.keep_checkpoints)
            save_weights(self.out_dir / WEIGHTS_NAME, self._tensors(),
                         metadata={"step": str(self.step), "aigc_version": __version__})
        barrier(self.dist)

    def _write_main_state(self, folder: Path, batcher: Batcher) -> None:
        optim_tensors: dict[str, torch.Tensor] = {}
        optim_meta: dict[str, Any] = {}
        for name, opt in self.optimizers.items():
            tensors, meta = ckpt.flatten_optimizer(opt.state_dict(), name)
            optim_tensors.update(tensors)
            optim_meta[name] = meta
        save_weights(folder / "model.safetensors", self._tensors())
        if optim_tensors:
            save_weights(folder / "optim.safetensors", optim_tensors)
        state = {"step": self.step, "schedule_progress": self._schedule_progress(), "optimizers": optim_meta,
                 "batcher": batcher.state_dict(), "scaler": {k: v for k, v in self.scaler.state_dict().items()},
                 "world": self.dist.world, "extensions": {e.name: e.state_dict() for e in self.extensions}}
        atomic_write_json(folder / "state.json", state)

    def _load_checkpoint(self, batcher: Batcher) -> None:
        path = ckpt.latest_checkpoint(self.out_dir / "train_state")
        if path is None:
            raise BadInputError(f"--resume: {self.out_dir} has no checkpoint to resume from")
        state, weights, optim, rng = ckpt.read_state(path, self.dist.rank, self.device)
        if state.get("world", 1) != self.dist.world:
            raise BadInputError(f"{path} was written by {state.get('world')} process(es); resume "
                                f"with the same number (now {self.dist.world})")
        for n, net in self.raw.items():
            net.load_state_dict(split_prefix(weights, n), strict=True)
        for n, ema in self.ema.items():
            ema.module.load_state_dict(split_prefix(weights, f"ema.{n}"), strict=True)
        for n, opt in self.optimizers.items():
            opt.load_state_dict(ckpt.unflatten_optimizer(optim, state["optimizers"][n], n))
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        batcher.load_state_dict(state["batcher"])
        ckpt.set_rng_state(rng, self.generator)
        self.step = int(state["step"])
        self._progress_start = float(state.get("schedule_progress", schedule_progress(self.config, self.step)))
        self._time_progress = self._progress_start
        stored = state.get("extensions", {})
        for ext in self.extensions:
            ext.load_state_dict(stored.get(ext.name, {}))
        self._verify_weights(path)

    def _verify_weights(self, checkpoint: Path) -> None:
        """The exported model.safetensors must be the checkpoint's: readable, same tensors and step."""
        path = self.out_dir / WEIGHTS_NAME
        try:
            from safetensors import safe_open

            step = int(weights_metadata(path).get("step", -1))
            with safe_open(str(path), framework="pt") as fh:
                shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
        except Exception as exc:  # safetensors raises several types for corrupt files
            raise BadInputError(f"--resume: {path} is unreadable ({exc}); restore it or train into "
                                f"another --out (the checkpoint {checkpoint.name} is intact)") from exc
        expected = {k: tuple(v.shape) for k, v in self._tensors().items()}
        if shapes != expected or step != self.step:
            raise BadInputError(f"--resume: {path} (step {step}) does not match {checkpoint} (step "
                                f"{self.step}); it was replaced or edited. Restore it or use another --out")

    # ------------------------------------------------------------------ loop
    @contextlib.contextmanager
    def _graceful_interrupt(self) -> Iterator[None]:
        """First Ctrl-C: finish the current step, checkpoint, stop. Second: stop at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def fit(self, data: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """Run until ``config.steps`` optimizer steps; return a summary."""
        cfg = self.config
        batcher = next((b for ext in self.extensions if (b := ext.make_batcher(self, data)) is not None), None)
        if batcher is None:
            batcher = Batcher(data, cfg.batch_size, seed=cfg.seed, rank=self.dist.rank, world=self.dist.world)
        if self.dist.is_main:
            self._check_config()
        barrier(self.dist)
        if self.resume:
            self._load_checkpoint(batcher)
        # dropout and other global-RNG users start from the configured seed; the caller's global
        # RNG state is restored afterwards (the library never reseeds it for good)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if not self.resume:
                torch.manual_seed(cfg.seed * 7919 + self.dist.rank + 1)
            return self._fit(batcher)

    def _fit(self, batcher: Batcher) -> dict[str, Any]:
        cfg = self.config
        log = MetricsLog(self.out_dir / "logs" / "metrics.jsonl", enabled=self.dist.is_main)
        log.truncate_after(self.step)
        start, first = time.perf_counter(), self.step
        clock = time.process_time if cfg.time_limit_clock == "cpu" else time.perf_counter
        clock_start = clock()
        ctx = StepContext(self)
        logs: dict[str, float] = {}
        stopped = None
        with self._graceful_interrupt(), self._progress(first) as bar:
            while self.step < cfg.steps and stopped is None:
                logs = self._train_step(batcher, ctx)
                self._after_step(logs, log, bar, batcher)
                reason = next((r for ext in self.extensions if (r := ext.after_step(self, logs))), None)
                elapsed = time.perf_counter() - start
                spent = clock() - clock_start
                eta = elapsed / (self.step - first) * (cfg.steps - self.step)
                out_of_time = cfg.time_limit_s is not None and spent >= cfg.time_limit_s
                if cfg.time_limit_s is not None:
                    # the time limit may end the run first; the next step's learning rate under "cosine-time"
                    eta = min(eta, max(0.0, cfg.time_limit_s - spent) * elapsed / max(spent, 1e-9))
                    share = min(1.0, spent / cfg.time_limit_s)
                    self._time_progress = self._progress_start + (1.0 - self._progress_start) * share
                    if bar is not None and self._time_bar:
                        bar.update(min(bar.total, int(spent)) - bar.n)
                progress.report("train", self.step, cfg.steps, logs=logs, seconds=elapsed, eta_s=eta)
                cancelled = self.dist.is_main and _cancel_requested()
                code = sync_max(self.dist, 3 if cancelled else 2 if self._stop_requested
                                else 1 if (out_of_time or reason) else 0)
                if code >= 2:
                    self.save_checkpoint(batcher)
                    error = TrainingCancelled if code == 3 else TrainingInterrupted
                    exc = error(f"{'cancelled' if code == 3 else 'interrupted'} at step {self.step}; checkpoint "
                                f"saved in {self.out_dir}. Continue with --resume")
                    exc.step = self.step
                    raise exc
                stopped = (reason or "time limit") if code == 1 else None
        if self.step > first or not (self.out_dir / WEIGHTS_NAME).exists():
            self.save_checkpoint(batcher)
            self._sample()
        return {"step": self.step, "steps_run": self.step - first, "logs": logs, "stopped": stopped,
                "seconds": time.perf_counter() - start, "out_dir": str(self.out_dir)}

    def _after_step(self, logs: dict[str, float], log: MetricsLog, bar: Any, batcher: Batcher) -> None:
        cfg = self.config
        if self.step % cfg.log_every == 0 or self.step == cfg.steps:
            if isinstance(self.objective, Diagnoses) and self.dist.is_main:  # e.g. class histogram of samples
                with self._evaluating() as nets:
                    gen = make_generator(cfg.seed + 1, self.device)
                    logs = {**logs, **self.objective.diagnostics(nets, gen, self.step)}
            lr = next(iter(self.optimizers.values())).param_groups[0]["lr"]
            log.write({"step": self.step, "lr": lr, **logs})
            if bar is not None:
                shown = {"step": self.step} if self._time_bar else {}
                bar.set_postfix({**shown, **{k: f"{v:.4g}" for k, v in logs.items()}}, refresh=False)
        if bar is not None and not self._time_bar:
            bar.update(1)
        if self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps:
            self.save_checkpoint(batcher)
            progress.report("checkpoint", self.step, cfg.steps, path=str(self.out_dir))
        if cfg.sample_every and self.step % cfg.sample_every == 0 and self.step < cfg.steps:
            self._sample()

    @contextlib.contextmanager
    def _progress(self, initial: int) -> Iterator[Any]:
        if not (self.config.progress and self.dist.is_main):
            yield None
            return
        from tqdm.auto import tqdm

        if self._time_bar:  # "cosine-time": the time limit is the plan, so the bar counts its seconds
            with tqdm(total=int(math.ceil(self.config.time_limit_s)), desc="train", unit="s", dynamic_ncols=True,
                      mininterval=0.5, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}{postfix}]") as bar:
                yield bar
            return
        with tqdm(total=self.config.steps, initial=initial, desc="train", unit="step",
                  dynamic_ncols=True, mininterval=0.5) as bar:
            yield bar

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[dict[str, nn.Module]]:
        """The sampling networks in eval mode under no_grad; their train/eval modes are restored."""
        nets = self.sampling_networks()
        modes = {n: net.training for n, net in nets.items()}
        try:
            for net in nets.values():
                net.eval()
            with torch.no_grad():
                yield nets
        finally:
            for n, net in nets.items():
                net.train(modes[n])

    def sampling_networks(self) -> dict[str, nn.Module]:
        """EMA networks where kept, else the live ones (unwrapped)."""
        return {n: (self.ema[n].module if n in self.ema else net) for n, net in self.raw.items()}

    def _sample(self) -> None:
        if self.preview is None or not self.dist.is_main:
            return
        with self._evaluating() as nets:
            images = self.preview(nets, make_generator(self.config.seed, self.device))
        if images is not None:
            path = save_preview(images, self.out_dir / "samples", self.step)
            progress.report("preview", self.step, self.config.steps, path=str(path))


def _cancel_requested() -> bool:
    try:
        progress.check_cancelled("training")
    except progress.Cancelled:
        return True
    return False


def read_metrics(out_dir: str | Path) -> list[dict[str, Any]]:
    """The JSONL metrics log of a model directory as a list of dicts."""
    path = Path(out_dir) / "logs" / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
