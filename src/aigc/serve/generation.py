"""Generate requests: the CLI's command for every task, a dynamic-batching fast path for image
models, and token streaming for models that stream.

- Any task: the request's parameters become ``aigc generate DIR ...`` (or a model command such as
  ``inpaint``), parsed by the task's own ``generate_parser`` and run by its own function into a
  fresh output folder — byte for byte what the command line writes.
- Models whose Pipeline has ``generate(n, seed, ...)`` (images, clips): the same command runs, but
  its ``aigc.load`` (through ``aigc.core.pipeline.providing``) gets the studio's loaded Pipeline
  whose ``generate`` joins a dynamic batch of concurrent requests with the same other options
  (:mod:`aigc.serve.batching`); saving and the recipe stay the task's own code, so a batched file is
  the file the command line writes (the tests compare bytes).
- Streaming: a Pipeline with ``stream(prompt, **params)`` (text) yields its pieces over SSE.
"""

from __future__ import annotations

import collections
import contextvars
import ctypes
import ctypes.util
import inspect
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aigc.core.errors import BadInputError
from aigc.serve.batching import DynamicBatcher, Request, SplitRandom, merge_rows
from aigc.serve.commands import (
    OUT_SUFFIX,
    Resolver,
    as_recorded,
    check_limits,
    describe_form,
    generate_command,
)

__all__ = ["Generator", "use_threads"]


class Generator:
    """Runs generate requests for the models of a :class:`~aigc.serve.store.ModelStore`."""

    def __init__(self, store: Any, outputs: Path, resolver: Resolver, limits: Any, device: str, *,
                 batching: bool = True, threads: int | None = None) -> None:
        import torch

        self.store, self.outputs, self.resolver = store, outputs, resolver
        self.limits, self.device, self.batching = limits, device, batching
        self.threads = threads or torch.get_num_threads()  # intra-op threads of the model thread
        self._pipes: dict[str, tuple[float, Any]] = {}
        self._batchers: dict[tuple, DynamicBatcher] = {}
        self._gates: dict[str, threading.Lock] = {}  # one batch at a time per model
        # The models run on this one thread with ``threads`` intra-op threads; request threads (loading,
        # saving, answering) use one, so they keep no OpenMP pool beside it (why: DynamicBatcher).
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aigc-model",
                                                initializer=use_threads, initargs=(self.threads,))
        self._lock = threading.Lock()
        self.batches = BatchRecord()  # sizes of the batches run (tests, /api/stats, the benchmark)

    # ------------------------------------------------------------------ the CLI's path
    def run(self, name: str, params: Mapping[str, Any], *, command: str | None = None,
            fmt: str | None = None) -> tuple[str, list[Path]]:
        """Generate with model ``name``; returns (output id, files written)."""
        from aigc.core.registry import task

        model_dir = self.store.path(name)
        t = task(self._config(model_dir)["task"])
        out_id = uuid.uuid4().hex[:16]
        folder = self.outputs / out_id
        out = folder / ("out" + self._suffix(t, fmt))
        args, argv = generate_command(t, model_dir, params, out, self.device, self.resolver, command)
        check_limits(args, self.limits)
        folder.mkdir(parents=True, exist_ok=True)
        _request_thread()
        with as_recorded([command or "generate", str(model_dir), *argv]):
            if command in (None, "generate") and self._batchable(t):
                self._run_batched(name, model_dir.resolve(), args)
            else:  # the whole command on the model thread, one at a time
                self._model_thread.submit(contextvars.copy_context().run, args.func, args).result()
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise BadInputError("the command wrote no file")
        return out_id, files

    def form(self, name: str, command: str = "generate") -> dict[str, Any]:
        """The parameters of model ``name``'s ``command`` (its task's own parser), for a form."""
        from aigc.core.registry import resolve, task

        model_dir = self.store.path(name)
        t = task(self._config(model_dir)["task"])
        if command == "generate" and t.generate_parser:
            target = t.generate_parser
        elif command in t.model_commands:
            target = t.model_commands[command][1]
        else:
            raise BadInputError(f"{t.name} models have no command {command!r}; they take: "
                                f"{', '.join(['generate'] * bool(t.generate_parser) + sorted(t.model_commands))}")
        pipe_cls = resolve(t.pipeline)
        return {"model": name, "task": t.name, "command": command, "media": list(t.media),
                "streams": command == "generate" and callable(getattr(pipe_cls, "stream", None)),
                "fields": describe_form(resolve(target)(str(model_dir)))}

    @staticmethod
    def _config(model_dir: Path) -> dict:
        from aigc.core.modeldir import read_config

        return read_config(model_dir)

    @staticmethod
    def _suffix(t: Any, fmt: str | None) -> str:
        media = [m for m in t.media if m in OUT_SUFFIX]
        if fmt is not None and fmt not in media:
            raise BadInputError(f"format {fmt!r}: {t.name} models write {', '.join(media)}")
        return OUT_SUFFIX[fmt or (media[0] if media else "json")]

    # ------------------------------------------------------------------ the batched path
    def pipeline(self, name: str, model_dir: Path) -> Any:
        """The loaded Pipeline of ``name``, loaded again when its weights changed."""
        from aigc.core.modeldir import WEIGHTS_NAME
        from aigc.core.pipeline import load_pipeline

        stamp = (model_dir / WEIGHTS_NAME).stat().st_mtime_ns
        with self._lock:
            cached = self._pipes.get(name)
            if cached is None or cached[0] != stamp:
                cached = (stamp, load_pipeline(model_dir, device=self.device))
                self._pipes[name] = cached
            return cached[1]

    def _batchable(self, t: Any) -> bool:
        """Pipelines with ``generate(n, seed, ...)``, when ``aigc.core.pipeline.providing`` exists."""
        import aigc.core.pipeline as core

        if not hasattr(core, "providing"):
            return False
        from aigc.core.registry import resolve

        gen = getattr(resolve(t.pipeline), "generate", None)
        return gen is not None and list(inspect.signature(gen).parameters)[1:3] == ["n", "seed"]

    def _run_batched(self, name: str, model_dir: Path, args: Any) -> None:
        """The task's own command, whose ``aigc.load`` gets a Pipeline that batches ``generate``."""
        from aigc.core.pipeline import providing

        pipe = self.pipeline(name, model_dir)

        def provide(path: Any, device: str) -> Any:
            if Path(path).resolve() != model_dir:
                return None
            return _BatchingPipeline(pipe, lambda key, options: self._batcher(name, (name, id(pipe), key), pipe,
                                                                              options))

        with providing(provide):
            args.func(args)

    def _batcher(self, name: str, key: tuple, pipe: Any, options: dict[str, Any]) -> DynamicBatcher:
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None:
                batcher = DynamicBatcher(
                    lambda requests: _run_batch(pipe, requests, options),
                    lambda request: setattr(request, "result", pipe.generate(request.n, seed=request.seed,
                                                                                  **options, **request.rows)),
                    max_batch=self.limits.batch if self.batching else 1,
                    wait_s=self.limits.batch_wait_ms / 1000 if self.batching else 0.0, record=self.batches,
                    gate=self._gates.setdefault(name, threading.Lock()), on_idle=release_free_memory,
                    executor=self._model_thread, follow=self.limits.batch_follow if self.batching else 0.0)
                self._batchers[key] = batcher
            return batcher

    def batch_sizes(self) -> list[int]:
        return list(self.batches.recent)

    # ------------------------------------------------------------------ streaming
    def stream(self, name: str, prompt: str, params: Mapping[str, Any]) -> Iterator[str]:
        """Pieces of text from a Pipeline that streams (``stream(prompt, **params)``)."""
        model_dir = self.store.path(name)
        _request_thread()  # the stream runs on the thread that reads it (one intra-op thread)
        pipe = self.pipeline(name, model_dir)
        if not callable(getattr(pipe, "stream", None)):
            raise BadInputError(f"model {name!r} ({pipe.task}) does not stream; call generate without stream")
        tokens = params.get("max_tokens", 200)
        if not isinstance(tokens, int) or tokens > self.limits.tokens:
            raise BadInputError(f"max_tokens = {tokens!r}: give a whole number up to {self.limits.tokens}")
        kwargs = dict(params)
        if "stop" in kwargs:
            kwargs["stop"] = tuple(kwargs["stop"]) if isinstance(kwargs["stop"], list) else (kwargs["stop"],)
        return pipe.stream(prompt, **kwargs)  # the Pipeline checks the names (unknown ones: one clear error)


_thread_state = threading.local()


def use_threads(n: int) -> None:
    """``n`` intra-op threads for the torch ops of the calling thread (OpenMP's thread count is kept per
    thread; torch's setting for threads started later changes too, so each kind of thread sets its own)."""
    import torch

    torch.set_num_threads(n)
    _thread_state.threads = n


def _request_thread() -> None:
    """One intra-op thread on a request's thread, so it keeps no OpenMP pool beside the model thread's."""
    if getattr(_thread_state, "threads", None) != 1:
        use_threads(1)


def _run_batch(pipe: Any, requests: list[Request], options: dict[str, Any]) -> None:
    from aigc.core.seed import make_generator

    sizes = [r.n for r in requests]
    rows = merge_rows(requests)
    with SplitRandom([make_generator(r.seed, pipe.device) for r in requests], sizes):
        images = pipe.generate(sum(sizes), seed=0, **options, **rows)
    for request, part in zip(requests, images.split(sizes)):
        request.result = part


class _BatchingPipeline:
    """A loaded Pipeline whose ``generate(n, seed, **options)`` joins the batch of its options;
    everything else (``save``, ``recipe``, ``label_for``, ...) is the Pipeline's own."""

    def __init__(self, pipe: Any, batcher_for: Any) -> None:
        self._pipe, self._batcher_for = pipe, batcher_for

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def generate(self, n: int = 64, seed: int = 0, **options: Any) -> Any:
        options.pop("progress", None)  # no bar in a server; the batch reports nothing per request
        row_names = set(getattr(self._pipe, "row_options", ()))
        rows = {k: v for k, v in options.items() if k in row_names and v is not None}
        options = {k: v for k, v in options.items() if k not in rows}
        key = (tuple(sorted((k, _hashable(v)) for k, v in options.items())), tuple(sorted(rows)))
        return self._batcher_for(key, options).submit(Request(n=n, seed=seed, rows=rows))


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if hasattr(value, "tolist"):
        return tuple(value.flatten().tolist()) if getattr(value, "ndim", 0) else value.item()
    return value


class BatchRecord:
    """Sizes of the batches run: the recent ones in order and a histogram of all (bounded memory)."""

    def __init__(self, keep: int = 4096) -> None:
        self.recent: collections.deque[int] = collections.deque(maxlen=keep)
        self.histogram: collections.Counter[int] = collections.Counter()

    def append(self, size: int) -> None:
        self.recent.append(size)
        self.histogram[size] += 1


def _load_libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


def release_free_memory() -> bool:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim(0)``; elsewhere a no-op).

    A batch's tensors are freed when it ends, but glibc keeps freed heap memory in its arenas (one
    per thread that allocated, and threads vary here), and batches of varying sizes leave it in pieces
    that later, differently-sized batches only partly reuse: the server's RSS climbs in steps. Trimming
    when a model goes idle returns those pages; the next batch maps what it needs again."""
    return bool(_LIBC.malloc_trim(0)) if _LIBC is not None else False


def resident_mb() -> float | None:
    """This process's resident memory in MB (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
