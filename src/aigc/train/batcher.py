"""In-memory batching with exact, resumable order and DDP sharding."""

from __future__ import annotations

from typing import Any, Mapping

import torch

from aigc.core.errors import BadInputError
from aigc.core.seed import make_generator

__all__ = ["Batcher"]


class Batcher:
    """Endless shuffled batches over tensors that share their first dimension.

    Each epoch's order is ``randperm(N)`` from a generator seeded with ``seed + epoch``, so the
    state is just ``(epoch, position)``. Under DDP every rank computes the same permutation and
    takes its own slice of each global batch of ``batch_size * world`` items: a 2-process run with
    batch ``b`` sees exactly the samples of a 1-process run with batch ``2b``.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor], batch_size: int, *, seed: int,
                 rank: int = 0, world: int = 1) -> None:
        if not tensors:
            raise BadInputError("no training data given")
        sizes = {k: len(v) for k, v in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise BadInputError(f"training tensors differ in length: {sizes}")
        self.tensors = dict(tensors)
        self.n = next(iter(sizes.values()))
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        if self.n < batch_size * world:
            raise BadInputError(
                f"the dataset has {self.n} samples, fewer than one batch ({batch_size} x {world} "
                f"process(es)); lower --batch-size or add data"
            )
        self.epoch, self.position = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=make_generator(self.seed * 1_000_003 + epoch))

    def next(self) -> dict[str, torch.Tensor]:
        span = self.batch_size * self.world
        if self.position + span > self.n:
            self.epoch, self.position = self.epoch + 1, 0
            self._perm = self._permutation(self.epoch)
        start = self.position + self.rank * self.batch_size
        idx = self._perm[start:start + self.batch_size]
        self.position += span
        return {k: v[idx] for k, v in self.tensors.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._perm = self._permutation(self.epoch)
