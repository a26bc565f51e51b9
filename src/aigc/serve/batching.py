"""Dynamic batching: concurrent generate requests for one model run as one batch, each keeping its seed.

A request alone runs ``pipeline.generate(n, seed=s)``, whose sampler draws its noise (and labels)
from one generator seeded with ``s``, ``n`` rows at a time. A batch runs ``generate(sum n)`` once,
under :class:`SplitRandom`: every random draw that takes a generator is replaced by the
concatenation of each request's own draw of its own rows from its own generator, in the same order
as alone. The networks then see exactly the noise each request would have seen alone, and work row
by row (eval mode), so each request gets the output it would get alone — the tests compare bytes.
A draw whose first dimension is not the batch's size (a sampler that draws per batch, not per row)
raises :class:`NotSplittable`, and the requests then run one by one.

Options that take one value per output row (a Pipeline's ``row_options``, e.g. class ``labels``) may
differ within a batch: the batch passes one value per row (:func:`merge_rows`), each row the value its
request would pass alone. Other options must be equal within a batch.

The first request of a batch waits at most ``wait_s`` (<= 10 ms) for company, or until ``max_batch``
requests are there; one batch runs at a time per model (``gate``), and requests arriving meanwhile
form the next. After a batch that was not full, the next one also waits up to ``follow`` times the
last batch's run time for its clients to come back (see :class:`DynamicBatcher`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["DynamicBatcher", "NotSplittable", "Request", "SplitRandom", "merge_rows"]

_DRAWS = {torch.randn: "size", torch.rand: "size", torch.randint: "randint", torch.randn_like: "like",
          torch.rand_like: "like", torch.randint_like: "like", torch.normal: "normal"}


class NotSplittable(RuntimeError):
    """A random draw of a batch could not be split into the requests' own draws."""


class SplitRandom(TorchFunctionMode):
    """Inside this mode, seeded draws of ``sum(sizes)`` rows come from ``generators``, ``sizes[i]``
    rows each, instead of from the generator the code passed."""

    def __init__(self, generators: Sequence[torch.Generator], sizes: Sequence[int]) -> None:
        super().__init__()
        self.generators, self.sizes = list(generators), list(sizes)
        self.total = sum(self.sizes)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if kwargs.get("generator") is None or func not in _DRAWS:
            if kwargs.get("generator") is not None:
                raise NotSplittable(f"{getattr(func, '__name__', func)} with a generator is not splittable")
            return func(*args, **kwargs)
        parts = [func(*self._rows(func, args, n), **{**kwargs, "generator": g})
                 for g, n in zip(self.generators, self.sizes)]
        return torch.cat(parts)

    def _rows(self, func: Any, args: tuple, n: int) -> tuple:
        """``args`` of ``func`` asking for ``n`` rows instead of the batch's total."""
        kind = _DRAWS[func]
        if kind == "size":
            size = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else args
            return (self._check(tuple(size), n),)
        if kind == "randint":
            *bounds, size = args
            return (*bounds, self._check(tuple(size), n))
        raise NotSplittable(f"{func.__name__} draws are not split by request")

    def _check(self, size: tuple, n: int) -> tuple:
        if not size or size[0] != self.total:
            raise NotSplittable(f"a draw of shape {size} is not one row per sample of the batch ({self.total})")
        return (n, *size[1:])


@dataclass
class Request:
    """One request of a batch: its size ``n``, ``seed``, the values of its row options (``rows``: options
    taking one value per output row, which may differ within a batch) and, once run, its ``result``
    or ``error``."""

    n: int
    seed: int
    rows: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: BaseException | None = None
    arrived: float = field(default_factory=time.monotonic)
    leads: bool = False  # this request's thread runs the next batch
    waits: bool = False  # ... after waiting ``wait_s`` for company (not when it waited during the previous batch)
    wake: threading.Event = field(default_factory=threading.Event)  # done, or made leader
    done: threading.Event = field(default_factory=threading.Event)


def merge_rows(requests: Sequence[Request]) -> dict[str, Any]:
    """The row options of a batch of ``requests``: a value all share as it is (what each would pass
    alone), else one value per output row (request ``i``'s value repeated ``n_i`` times, or its own
    list of ``n_i`` values)."""
    merged: dict[str, Any] = {}
    for name in requests[0].rows:
        values = [r.rows[name] for r in requests]
        if all(_same(v, values[0]) for v in values[1:]):
            merged[name] = values[0]
            continue
        per_row: list[Any] = []
        for r, v in zip(requests, values):
            items = v.tolist() if hasattr(v, "tolist") else v
            if isinstance(items, (list, tuple)):
                if len(items) != r.n and len(items) != 1:
                    raise NotSplittable(f"option {name!r}: {len(items)} values for {r.n} rows")
                per_row.extend(items if len(items) == r.n else list(items) * r.n)
            else:
                per_row.extend([items] * r.n)
        merged[name] = per_row
    return merged


def _same(a: Any, b: Any) -> bool:
    a, b = (x.tolist() if hasattr(x, "tolist") else x for x in (a, b))
    return type(a) is type(b) and a == b


class DynamicBatcher:
    """Gathers requests sharing one key (model + parameters other than n, seed and row options) into
    batches.

    ``run_batch(requests)`` runs the whole batch and sets each request's ``result``; when it raises
    :class:`NotSplittable`, ``run_one(request)`` runs each request alone. ``gate`` (a lock shared by
    every batcher of one model) lets one batch at a time use the model, so the batch's intra-op
    threads have the cores; ``on_idle()`` runs after a batch that left nothing pending.

    A batch is gathered by the thread of its oldest request (the leader); when it is done, the oldest
    pending request leads the next batch and the old leader returns to its own request's work
    (saving, answering) while the next batch runs.

    Clients that wait for their answer before sending again come back one by one as their answers
    are written, and the first to come would run alone (measured with 16 such clients on 2 cores:
    batches alternated 15, 1, 15, 1 or 16, 1, 16, 1). So after a batch that was not full, the next
    leader waits until as many requests are pending as the last batch held plus those that came
    during it, for at most ``follow`` times the last batch's run time (a batch of 16 taking 0.75 s:
    up to 0.37 s); ``follow=0`` turns this off. After a full batch the rest were queued: no wait.

    ``executor`` (e.g. a one-thread ``ThreadPoolExecutor`` shared by every batcher of a process)
    runs the model calls: with several intra-op threads, every thread that runs torch ops keeps an
    OpenMP pool of its own, and once the pools' threads outnumber the cores, OpenMP stops spinning
    and every parallel region pays a wake-up (measured on 2 cores, 2 intra-op threads: a small conv
    net took 2.5 ms per call with one pool, 7.7 ms while three other live threads had used torch with
    2 threads, 3.7 ms when they used 1). One model thread keeps one pool.
    """

    def __init__(self, run_batch: Callable[[list[Request]], None], run_one: Callable[[Request], None], *,
                 max_batch: int = 32, wait_s: float = 0.005, record: Any = None,
                 gate: Any = None, on_idle: Callable[[], None] | None = None,
                 executor: Executor | None = None, follow: float = 0.0) -> None:
        self.run_batch, self.run_one = run_batch, run_one
        self.max_batch, self.wait_s = max_batch, wait_s
        self.gate = gate if gate is not None else contextlib.nullcontext()
        self.on_idle, self.executor = on_idle, executor
        self.follow = follow
        self._expect = max_batch  # requests a leader waits for: the last batch's clients
        self._follow_until = 0.0  # ... until then (monotonic seconds)
        self._pending: list[Request] = []
        self._cond = threading.Condition()
        self._leader = False
        self.batches: Any = record if record is not None else []  # sizes of the batches run (.append)

    def submit(self, request: Request) -> Any:
        """Run ``request`` (in a batch when others come within the wait) and return its result."""
        with self._cond:
            self._pending.append(request)
            self._cond.notify_all()
            if not self._leader:
                self._leader = request.leads = request.waits = True
                request.wake.set()
        request.wake.wait()
        if request.leads:
            self._lead(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _lead(self, me: Request) -> None:
        """Wait (at most ``wait_s`` from ``me``'s arrival, unless ``me`` waited during the previous
        batch, and while the last batch's clients may still come back) for company, run one batch
        holding ``me``, then hand the lead to the oldest pending request (or step down)."""
        with self._cond:
            if me.waits:
                self._cond.wait_for(lambda: len(self._pending) >= self.max_batch,
                                    timeout=max(0.0, me.arrived + self.wait_s - time.monotonic()))
            self._cond.wait_for(lambda: len(self._pending) >= min(self._expect, self.max_batch),
                                timeout=max(0.0, self._follow_until - time.monotonic()))
        with self.gate:  # requests arriving while another batch holds the model join this one
            with self._cond:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            started = time.monotonic()
            if self.executor is None:
                self._run(batch)
            else:
                self.executor.submit(self._run, batch).result()
            with self._cond:
                ended = time.monotonic()
                self._expect = len(batch) + len(self._pending)
                full = len(batch) >= self.max_batch
                self._follow_until = ended if full else ended + self.follow * (ended - started)
                idle = not self._pending
                if idle:
                    self._leader = False
                else:
                    self._pending[0].leads = True
                    self._pending[0].wake.set()
            if idle and self.on_idle is not None:
                self.on_idle()

    def _run_alone(self, request: Request) -> None:
        try:
            self.run_one(request)
        except Exception as exc:  # noqa: BLE001 -- the error belongs to this request alone
            request.error = exc

    def _run(self, batch: list[Request]) -> None:
        try:
            if len(batch) == 1:
                self.run_one(batch[0])
            else:
                try:
                    self.run_batch(batch)
                except NotSplittable:
                    for request in batch:
                        self._run_alone(request)
            self.batches.append(len(batch))
        except BaseException as exc:  # noqa: BLE001 -- every waiting request hears of the failure
            for request in batch:
                if request.result is None and request.error is None:
                    request.error = exc
        finally:
            for request in batch:
                request.done.set()
                request.wake.set()
