"""Scale-out on Redis with RQ: ``aigc serve --queue redis://...`` queues jobs that ``aigc worker``
processes (on this or other machines) run, with the same semantics as the embedded runtime.

Why RQ: the studio's queue is Redis-only by design, and RQ is a small, well-kept library made for
exactly that (a job is a plain function call; a worker forks one work horse per job, so a crash in a
job does not take the worker down); Celery would add a broker/result-backend layer and many
settings for features the studio does not use. Jobs travel as JSON (RQ's JSONSerializer), never
pickle.

- Job records and progress events live in Redis (:class:`~aigc.serve.redis_jobs.RedisJobStore`), so
  the server's SSE streams, queue positions and the job list read what the workers write.
- Cancel is the same cooperative flag: a running job's reporter reads it at every step (training
  stops with a checkpoint); a queued job is marked cancelled and its worker skips it.
- Files: workers write models into ``--models`` and job files under ``--state`` (default
  ``MODELS/.studio``), as the embedded workers do, so the server and the workers must see the same
  folder (one machine, or a shared file system such as NFS on several).
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc.core.errors import BadInputError

__all__ = ["QUEUE_NAME", "RedisQueue", "connect", "perform", "run_worker", "shown"]

QUEUE_NAME = "aigc"


def connect(url: str) -> Any:
    """A Redis connection to ``url`` that answered PING, else a clear error."""
    import redis

    try:
        conn = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
        conn.ping()
    except (redis.RedisError, ValueError) as exc:
        raise BadInputError(f"--queue {shown(url)}: cannot reach Redis ({exc}); start redis-server or fix the URL "
                            "(redis://HOST:6379/0)") from None
    return conn


def _queue(conn: Any) -> Any:
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(QUEUE_NAME, connection=conn, serializer=JSONSerializer)


class RedisQueue:
    """The server's side: every submitted (or resumed) job becomes an RQ job calling :func:`perform`."""

    def __init__(self, conn: Any, limits: Any) -> None:
        self.conn, self.queue = conn, _queue(conn)
        self.limits = dataclasses.asdict(limits)  # the server's bounds travel with each job

    def enqueue(self, job_id: str) -> None:
        # no RQ timeout: training runs as long as its steps take; cancel is the studio's own flag
        self.queue.enqueue_call("aigc.serve.scaleout.perform", args=(job_id, self.limits), timeout=-1,
                                result_ttl=3600, failure_ttl=7 * 86400, description=f"aigc studio job {job_id}")

    def cancel(self, job_id: str) -> None:
        """Nothing beyond the store's flag: a queued job is skipped when a worker takes it."""

    def stop(self) -> None:
        self.conn.close()


@dataclass
class WorkerContext:
    """What a worker process knows: its folders, device and connection (from ``aigc worker`` flags)."""

    store: Any
    resolver: Any
    jobs: Any
    jobs_dir: Path
    device: str
    name: str
    event_interval_s: float = 0.1


_CONTEXT: contextvars.ContextVar[WorkerContext | None] = contextvars.ContextVar("aigc_worker", default=None)


def perform(job_id: str, limits: dict[str, Any]) -> str:
    """The RQ job: claim studio job ``job_id`` and run it as the embedded workers do; its end state."""
    from aigc.serve.config import Limits
    from aigc.serve.runner import execute, run_one
    from aigc.serve.store import inside

    ctx = _CONTEXT.get()
    if ctx is None:
        raise RuntimeError("aigc.serve.scaleout.perform runs inside `aigc worker`")
    job = ctx.jobs.claim(job_id)
    if job is None:  # cancelled (or taken) while it waited
        return "skipped"
    bounds = Limits(**limits)
    folder = inside(ctx.jobs_dir, job_id)

    def run(job: dict[str, Any], reporter: Any) -> dict[str, Any]:
        return execute(job["kind"], job["spec"], folder, store=ctx.store, resolver=ctx.resolver, limits=bounds,
                       device=ctx.device)

    return run_one(ctx.jobs, job, run, folder, ctx.event_interval_s, worker=ctx.name)


def _make_worker_class() -> type:
    from rq import Worker

    class StudioWorker(Worker):
        """An RQ worker whose work horses run :func:`perform` with this worker's context."""

        context: WorkerContext

        def perform_job(self, job: Any, queue: Any) -> bool:
            token = _CONTEXT.set(self.context)
            try:
                return super().perform_job(job, queue)
            finally:
                _CONTEXT.reset(token)

    return StudioWorker


def shown(url: str) -> str:
    """``url`` without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return url if not parts.password else url.replace(f":{parts.password}@", ":***@", 1)


def run_worker(url: str, models: Path, state: Path | None, device: str, *, burst: bool = False,
               name: str | None = None) -> None:
    """``aigc worker``: run studio jobs from the Redis queue at ``url`` until stopped (or, with
    ``burst``, until the queue is empty)."""
    import torch  # noqa: F401  -- imported once here, so every forked work horse starts warm
    from rq.serializers import JSONSerializer

    import aigc.cli  # noqa: F401  -- the command parsers jobs are parsed with
    from aigc.serve.commands import Resolver
    from aigc.serve.config import Limits
    from aigc.serve.redis_jobs import RedisJobStore
    from aigc.serve.store import ModelStore
    from aigc.serve.uploads import UploadStore

    models = Path(models).expanduser().resolve()
    if not models.is_dir():
        raise BadInputError(f"--models {str(models)!r} is not a folder; give the studio's models folder "
                            "(shared with the server)")
    state = Path(state).expanduser().resolve() if state else models / ".studio"
    conn = connect(url)
    store, jobs = ModelStore(models), RedisJobStore(conn)
    uploads = UploadStore(state / "uploads", Limits())
    name = name or f"{socket.gethostname()}.{os.getpid()}"
    ctx = WorkerContext(store=store, resolver=Resolver(uploads.path, store.path), jobs=jobs,
                        jobs_dir=state / "jobs", device=device, name=name)

    def horse_killed(job: Any, pid: int, status: int, rusage: Any) -> None:
        if job is not None and job.args:
            jobs.interrupt(str(job.args[0]), f"the worker's process for this job died (status {status})")

    worker = _make_worker_class()([_queue(conn)], connection=conn, name=name, serializer=JSONSerializer,
                                  work_horse_killed_handler=horse_killed)
    worker.context = ctx
    print(f"aigc worker {name} taking jobs from {shown(url)} (models in {models}); Ctrl-C stops it", flush=True)
    worker.work(burst=burst, logging_level="WARNING")
