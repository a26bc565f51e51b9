"""The job store: jobs and their progress events in SQLite (WAL), so the queue survives a restart.

A job is ``{"id", "kind" (train | generate | eval), "owner", "state", "spec", "result", "error",
"created", "started", "finished"}``; states go queued -> running -> done | failed | cancelled, and
a job that was running when the server stopped comes back as ``interrupted`` (a training job then
resumes from its last checkpoint on request). Events are numbered per job (``seq``) and read in
that order.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["ACTIVE", "FINISHED", "KINDS", "JobStore"]

KINDS = ("train", "generate", "eval")
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL,
    spec TEXT NOT NULL, result TEXT, error TEXT, cancel INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, started REAL, finished REAL, rank INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, rank);
CREATE TABLE IF NOT EXISTS events (
    job TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (job, seq));
"""


class JobStore:
    """Thread-safe access to the job database at ``path``; ``changed`` wakes event listeners."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.changed = threading.Condition()
        self._version = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _notify(self) -> None:
        with self.changed:
            self._version += 1
            self.changed.notify_all()

    def wake(self) -> None:
        """Wake everything waiting in :meth:`wait_change` (e.g. workers asked to stop)."""
        self._notify()

    def version(self) -> int:
        return self._version

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until something changed after ``version`` (or ``timeout`` seconds); the new version."""
        with self.changed:
            self.changed.wait_for(lambda: self._version != version, timeout=timeout)
            return self._version

    # ------------------------------------------------------------------ jobs
    def add(self, kind: str, owner: str, spec: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex[:12]
        with self._lock:
            rank = self._db.execute("SELECT COALESCE(MAX(rank), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute("INSERT INTO jobs (id, kind, owner, state, spec, created, rank) VALUES "
                             "(?, ?, ?, 'queued', ?, ?, ?)", (job_id, kind, owner, json.dumps(spec), time.time(), rank))
        self._notify()
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        rows = self._exec("SELECT id, kind, owner, state, spec, result, error, cancel, created, started, "
                          "finished, rank FROM jobs WHERE id = ?", (job_id,))
        return self._row(rows[0]) if rows else None

    def list(self, owner: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, args = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        rows = self._exec(f"SELECT id, kind, owner, state, spec, result, error, cancel, created, started, "
                          f"finished, rank FROM jobs {where} ORDER BY rank DESC LIMIT ?", (*args, limit))
        return [self._row(r) for r in rows]

    def _row(self, r: tuple) -> dict[str, Any]:
        job = {"id": r[0], "kind": r[1], "owner": r[2], "state": r[3], "spec": json.loads(r[4]),
               "result": json.loads(r[5]) if r[5] else None, "error": r[6], "cancel_requested": bool(r[7]),
               "created": r[8], "started": r[9], "finished": r[10], "position": None}
        if job["state"] == "queued":
            job["position"] = self._exec("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND rank < ?",
                                         (r[11],))[0][0]
        return job

    def active_count(self, owner: str) -> int:
        return self._exec("SELECT COUNT(*) FROM jobs WHERE owner = ? AND state IN ('queued', 'running')",
                          (owner,))[0][0]

    def claim(self) -> dict[str, Any] | None:
        """Atomically move the oldest queued job to running and return it (None when none)."""
        with self._lock:
            row = self._db.execute("UPDATE jobs SET state = 'running', started = ? WHERE id = (SELECT id FROM "
                                   "jobs WHERE state = 'queued' ORDER BY rank LIMIT 1) AND state = 'queued' "
                                   "RETURNING id", (time.time(),)).fetchone()
        if row is None:
            return None
        self._notify()
        return self.get(row[0])

    def finish(self, job_id: str, state: str, *, result: Any = None, error: str | None = None) -> None:
        self._exec("UPDATE jobs SET state = ?, result = ?, error = ?, finished = ? WHERE id = ?",
                   (state, json.dumps(result) if result is not None else None, error, time.time(), job_id))
        self._notify()

    def request_cancel(self, job_id: str) -> str:
        """Cancel a queued job at once; mark a running one (its worker stops at the next step)."""
        with self._lock:
            self._db.execute("UPDATE jobs SET state = 'cancelled', finished = ?, cancel = 1 WHERE id = ? AND "
                             "state = 'queued'", (time.time(), job_id))
            self._db.execute("UPDATE jobs SET cancel = 1 WHERE id = ? AND state = 'running'", (job_id,))
            state = self._db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        self._notify()
        return state

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self._exec("SELECT cancel FROM jobs WHERE id = ?", (job_id,))[0][0])

    def requeue(self, job_id: str, spec: dict[str, Any]) -> None:
        with self._lock:
            rank = self._db.execute("SELECT COALESCE(MAX(rank), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute("UPDATE jobs SET state = 'queued', spec = ?, cancel = 0, error = NULL, finished = NULL, "
                             "rank = ? WHERE id = ?", (json.dumps(spec), rank, job_id))
        self._notify()

    def recover(self) -> list[str]:
        """After a restart: jobs left running were interrupted (the process died under them)."""
        with self._lock:
            rows = self._db.execute("UPDATE jobs SET state = 'interrupted', finished = ? WHERE state = 'running' "
                                    "RETURNING id", (time.time(),)).fetchall()
        for (job_id,) in rows:
            self.add_event(job_id, {"kind": "state", "state": "interrupted",
                                    "message": "the server stopped while this job ran"})
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ events
    def add_event(self, job_id: str, event: dict[str, Any]) -> int:
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job = ?", (job_id,)).fetchone()[0]
            self._db.execute("INSERT INTO events (job, seq, event) VALUES (?, ?, ?)",
                             (job_id, seq, json.dumps({**event, "seq": seq, "time": time.time()})))
        self._notify()
        return seq

    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self._exec("SELECT event FROM events WHERE job = ? AND seq > ? ORDER BY seq LIMIT ?",
                          (job_id, after, limit))
        return [json.loads(r[0]) for r in rows]
