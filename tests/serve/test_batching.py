"""Dynamic batching without a server: SplitRandom gives each request the draws of its own generator,
a batch forms from concurrent submits (bounded by max_batch), a sampler that draws per batch falls
back to one-by-one runs, and an error reaches every request of its batch."""

from __future__ import annotations

import contextlib
import threading

import pytest
import torch

from aigc.serve.batching import DynamicBatcher, NotSplittable, Request, SplitRandom


def _gens(seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_split_random_equals_each_generator_drawing_its_own_rows():
    seeds, sizes = [3, 9, 4], [2, 1, 3]
    with SplitRandom(_gens(seeds), sizes):
        x = torch.randn(6, 2, 5, generator=torch.Generator().manual_seed(0))
        y = torch.randint(0, 10, (6,), generator=torch.Generator())
        free = torch.randn(6)  # no generator: untouched
    ref_x, ref_y = [], []
    for s, n in zip(seeds, sizes):
        g = torch.Generator().manual_seed(s)
        ref_x.append(torch.randn(n, 2, 5, generator=g))
        ref_y.append(torch.randint(0, 10, (n,), generator=g))
    assert torch.equal(x, torch.cat(ref_x)) and torch.equal(y, torch.cat(ref_y)) and free.shape == (6,)


def test_a_draw_not_one_row_per_sample_is_not_splittable():
    with SplitRandom(_gens([1, 2]), [1, 1]), pytest.raises(NotSplittable, match="shape"):
        torch.randn(5, 3, generator=torch.Generator())
    with SplitRandom(_gens([1, 2]), [1, 1]), pytest.raises(NotSplittable):
        torch.randn_like(torch.zeros(2, 3), generator=torch.Generator())


def sampler(n: int, gen: torch.Generator, per_batch: bool) -> torch.Tensor:
    """A toy sampler: row-wise (splittable) or drawing one shared scalar per batch (not splittable)."""
    rows = torch.randn(n, 4, generator=gen)
    if per_batch:
        rows = rows + torch.randn(1, 1, generator=gen)
    return rows.cumsum(1)


def run_concurrently(per_batch: bool, requests: list[Request], max_batch: int = 8) -> DynamicBatcher:
    def run_batch(batch):
        sizes = [r.n for r in batch]
        with SplitRandom(_gens([r.seed for r in batch]), sizes):
            out = sampler(sum(sizes), torch.Generator(), per_batch)
        for r, part in zip(batch, out.split(sizes)):
            r.result = part

    def run_one(r):
        r.result = sampler(r.n, torch.Generator().manual_seed(r.seed), per_batch)

    batcher = DynamicBatcher(run_batch, run_one, max_batch=max_batch, wait_s=10.0)  # leader waits for max_batch
    barrier = threading.Barrier(len(requests))

    def submit(r):
        barrier.wait()
        with contextlib.suppress(Exception):  # the request carries its error; the test reads it
            batcher.submit(r)

    threads = [threading.Thread(target=submit, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return batcher


@pytest.mark.parametrize("per_batch", [False, True])
def test_concurrent_requests_batch_and_each_gets_its_own_output(per_batch):
    requests = [Request(n=1 + i % 3, seed=50 + i) for i in range(8)]
    batcher = run_concurrently(per_batch, requests, max_batch=8)
    assert batcher.batches == [8]  # the leader waited until all 8 were there, then ran them as one batch
    for r in requests:
        assert r.error is None
        assert torch.equal(r.result, sampler(r.n, torch.Generator().manual_seed(r.seed), per_batch))


def test_batches_are_bounded_by_max_batch_and_errors_reach_every_request():
    requests = [Request(n=1, seed=i) for i in range(6)]
    batcher = run_concurrently(False, requests, max_batch=4)
    assert sum(batcher.batches) == 6 and max(batcher.batches) <= 4

    def broken(batch):
        raise RuntimeError("out of memory")

    failing = DynamicBatcher(broken, broken, max_batch=2, wait_s=10.0)
    reqs = [Request(n=1, seed=0), Request(n=1, seed=1)]
    barrier = threading.Barrier(2)
    errors = []

    def submit(r):
        barrier.wait()
        try:
            failing.submit(r)
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=submit, args=(r,)) for r in reqs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == ["out of memory"] * 2
