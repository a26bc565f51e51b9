"""Dynamic batching without a server: SplitRandom gives each request the draws of its own generator,
a batch forms from concurrent submits (bounded by max_batch), a sampler that draws per batch falls
back to one-by-one runs, and an error reaches every request of its batch."""

from __future__ import annotations

import contextlib
import threading

import pytest
import torch

from aigc.serve.batching import (
    DynamicBatcher,
    NotSplittable,
    Request,
    SplitRandom,
    merge_rows,
)


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


def test_row_options_merge_per_row_and_a_mixed_batch_gives_each_request_its_own_rows():
    a, b, c = Request(n=2, seed=1, rows={"shift": 3}), Request(n=1, seed=2, rows={"shift": 5}), \
        Request(n=2, seed=3, rows={"shift": [7, 8]})
    assert merge_rows([a, b, c]) == {"shift": [3, 3, 5, 7, 8]}
    assert merge_rows([a, Request(n=4, seed=0, rows={"shift": 3})]) == {"shift": 3}  # shared: passed as is
    with pytest.raises(NotSplittable):
        merge_rows([a, Request(n=2, seed=0, rows={"shift": [1, 2, 3]})])

    def shifted(n, gen, shift):
        return sampler(n, gen, False) + torch.as_tensor(shift, dtype=torch.float32).reshape(-1, 1)

    def run_batch(batch):
        sizes = [r.n for r in batch]
        with SplitRandom(_gens([r.seed for r in batch]), sizes):
            out = shifted(sum(sizes), torch.Generator(), **merge_rows(batch))
        for r, part in zip(batch, out.split(sizes)):
            r.result = part

    requests = [Request(n=1 + i % 2, seed=i, rows={"shift": i % 3}) for i in range(6)]
    batcher = DynamicBatcher(run_batch, lambda r: None, max_batch=6, wait_s=10.0)
    threads = [threading.Thread(target=batcher.submit, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert batcher.batches == [6]
    for r in requests:
        assert torch.equal(r.result, shifted(r.n, torch.Generator().manual_seed(r.seed), r.rows["shift"]))


def test_the_leader_returns_while_the_next_batch_runs_and_a_gate_lets_one_batch_run_at_a_time():
    gate, running, most = threading.Lock(), [0], [0]
    release_second, first_running, release_first = threading.Event(), threading.Event(), threading.Event()

    def run(batch):
        running[0] += 1
        most[0] = max(most[0], running[0])
        if batch[0].seed >= 100:  # the second batch holds the model until the test lets it go
            release_second.wait(60)
        else:
            first_running.set()
            release_first.wait(60)
        for r in batch:
            r.result = r.seed
        running[0] -= 1

    idle = []
    batcher = DynamicBatcher(run, lambda r: run([r]), max_batch=8, wait_s=0.0, gate=gate,
                             on_idle=lambda: idle.append(True))
    other = DynamicBatcher(run, lambda r: run([r]), max_batch=8, wait_s=0.0, gate=gate)
    first = Request(n=1, seed=1)
    t_first = threading.Thread(target=batcher.submit, args=(first,))
    t_first.start()
    assert first_running.wait(60)  # the first batch holds the model; the others come meanwhile
    later = [Request(n=1, seed=100 + i) for i in range(3)]
    threads = [threading.Thread(target=batcher.submit, args=(r,)) for r in later]
    threads.append(threading.Thread(target=other.submit, args=(Request(n=1, seed=200),)))
    for t in threads:
        t.start()
    release_first.set()
    t_first.join(60)  # the first batch's thread is back (saving, answering) while the second one runs
    assert first.result == 1 and not t_first.is_alive() and not all(r.done.is_set() for r in later)
    release_second.set()
    for t in threads:
        t.join(60)
    assert [r.result for r in later] == [100, 101, 102] and most[0] == 1 and idle


def test_after_a_batch_the_next_waits_for_its_clients_to_come_back_and_models_run_on_one_thread():
    """Closed-loop clients send again as their answers come back: after a batch of 1 (A) during which
    B and C came, B waits for A's client too (3 = the last batch + those that came during it) instead
    of running B, C and leaving A's next request to a batch of its own (the alternation 15, 1, 15, 1
    the load benchmark showed)."""
    from concurrent.futures import ThreadPoolExecutor

    a_running, release_a, threads_used = threading.Event(), threading.Event(), set()

    def run(batch):
        threads_used.add(threading.current_thread().name)
        if batch[0].seed == 0:
            a_running.set()
            release_a.wait(60)
        for r in batch:
            r.result = r.seed

    model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
    batcher = DynamicBatcher(run, lambda r: run([r]), max_batch=8, wait_s=0.0, executor=model_thread,
                             follow=1e6)  # the follow-up wait ends when A's client is back (or in 1e6 x A's time)
    a, b, c, d = (Request(n=1, seed=s) for s in (0, 1, 2, 3))
    t_a = threading.Thread(target=batcher.submit, args=(a,))
    t_a.start()
    assert a_running.wait(60)
    t_bc = [threading.Thread(target=batcher.submit, args=(r,)) for r in (b, c)]
    for t in t_bc:
        t.start()
    with batcher._cond:  # B and C arrive while A's batch runs
        assert batcher._cond.wait_for(lambda: len(batcher._pending) == 2, timeout=60)
    release_a.set()
    t_a.join(60)
    assert a.result == 0 and not b.done.is_set()  # B leads the next batch and waits for A's client
    t_d = threading.Thread(target=batcher.submit, args=(d,))  # ... which sends its next request
    t_d.start()
    for t in [*t_bc, t_d]:
        t.join(60)
    assert list(batcher.batches) == [1, 3]
    assert [r.result for r in (a, b, c, d)] == [0, 1, 2, 3]
    assert {name.split("_")[0] for name in threads_used} == {"model"}  # every model call on the one thread
    model_thread.shutdown()


def test_release_free_memory_hands_freed_heap_pages_back():
    import ctypes
    import ctypes.util
    import sys

    from aigc.serve.generation import release_free_memory, resident_mb

    if not sys.platform.startswith("linux") or resident_mb() is None:
        pytest.skip("needs Linux /proc and glibc")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 * 1024) for _ in range(2000)]  # 125 MB of heap chunks (below mmap's threshold)
    for b in blocks:
        ctypes.memset(b, 1, 64 * 1024)  # resident
    for b in blocks[:-1]:  # the last one pins the heap's top: free() alone cannot shrink it
        libc.free(b)
    before = resident_mb()
    release_free_memory()
    after = resident_mb()
    libc.free(blocks[-1])
    assert before - after > 60, (before, after)
