"""The studio's settings: where models and jobs live, who may call it, and how much one request may ask.

Nothing heavy is imported here (``aigc serve --help`` builds from it).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from aigc.core.errors import BadInputError

__all__ = ["Limits", "ServeConfig", "check_queue_url", "is_loopback"]


@dataclass(kw_only=True)
class Limits:
    """Per-request and per-user bounds; every one is a flag of ``aigc serve`` (``--max-...``)."""

    request_bytes: int = 16 * 1024 * 1024  # whole request body, uploads included
    pixels: int = 4096 * 4096  # an uploaded image's width x height
    audio_seconds: float = 600.0  # an uploaded WAV's length
    samples: int = 256  # images / clips / pieces per generate request (`n`)
    tokens: int = 2048  # new text tokens per request (`max_tokens`)
    steps: int = 1000  # sampling steps per generate request (`steps`)
    train_steps: int = 100_000  # optimizer steps per training job
    jobs_per_user: int = 4  # queued + running jobs of one token at a time
    batch: int = 32  # requests gathered into one dynamic batch
    batch_wait_ms: float = 5.0  # how long the first request of a batch waits for company (<= 10)
    batch_follow: float = 0.5  # after a batch that was not full, the next waits up to this x its run time

    def __post_init__(self) -> None:
        if not 0 <= self.batch_wait_ms <= 10:
            raise BadInputError(f"--batch-wait-ms must be between 0 and 10, got {self.batch_wait_ms}")
        if not 0 <= self.batch_follow <= 2:
            raise BadInputError(f"--batch-follow must be between 0 and 2, got {self.batch_follow}")
        for name in ("request_bytes", "pixels", "samples", "tokens", "steps", "train_steps", "jobs_per_user",
                     "batch"):
            if getattr(self, name) < 1:
                raise BadInputError(f"--max-{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")


@dataclass(kw_only=True)
class ServeConfig:
    """What ``aigc serve`` was started with."""

    models: Path
    host: str = "127.0.0.1"
    port: int = 8000
    tokens: tuple[str, ...] = ()
    state: Path | None = None  # job database, uploads and outputs (default MODELS/.studio)
    queue: str | None = None  # None = embedded SQLite + threads; redis://... = scale-out
    cors: tuple[str, ...] = ()
    device: str = "auto"
    workers: int = 1
    threads: int | None = None  # intra-op threads of the models (None: torch's own choice)
    event_interval_s: float = 0.1  # progress events of one kind are stored at most this often
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        self.models = Path(self.models).expanduser().resolve()
        if not self.models.is_dir():
            raise BadInputError(f"--models {str(self.models)!r} is not a folder; create it or point at "
                                "the folder holding your model directories")
        self.state = Path(self.state).expanduser().resolve() if self.state else self.models / ".studio"
        if not is_loopback(self.host) and not self.tokens:
            raise BadInputError(f"--host {self.host}: binding beyond this machine needs --token T (or the "
                                "AIGC_TOKEN environment variable); every request must then send "
                                "'Authorization: Bearer T'")
        if any(len(t) < 8 for t in self.tokens):
            raise BadInputError("--token: use at least 8 characters")
        if self.threads is not None and self.threads < 1:
            raise BadInputError(f"--threads must be >= 1, got {self.threads}")
        if self.workers < 1:
            raise BadInputError(f"--workers must be >= 1, got {self.workers}")
        if self.queue is not None:
            check_queue_url(self.queue)

    @classmethod
    def tokens_from(cls, given: list[str] | None) -> tuple[str, ...]:
        """``--token`` values, else the comma-separated ``AIGC_TOKEN`` environment variable."""
        if given:
            return tuple(given)
        env = os.environ.get("AIGC_TOKEN", "")
        return tuple(t.strip() for t in env.split(",") if t.strip())


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def check_queue_url(url: str) -> str:
    """``url`` when it names a Redis server (redis://, rediss:// or unix://), else a clear error."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise BadInputError(f"--queue {url!r}: give a Redis URL such as redis://127.0.0.1:6379/0 (or leave "
                            "--queue out to run jobs in-process)")
    return url
