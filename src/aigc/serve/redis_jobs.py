"""The job store on Redis: the same jobs and events as :class:`~aigc.serve.jobs.JobStore`, shared by
the server and every ``aigc worker`` (scale-out).

Keys (under ``prefix``): ``job:ID`` a hash (kind, owner, state, spec, result, error, cancel, created,
started, finished, rank); ``jobs`` and ``queued`` sorted sets by rank; ``running`` a set;
``events:ID`` a list whose n-th entry is event ``seq`` n; ``version`` a counter bumped on every change
and announced on the ``changed`` channel, which event streams wait on. State moves that race
(claim, cancel, event numbering) are single Lua scripts, so they are atomic in Redis.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

__all__ = ["RedisJobStore"]

_CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'started', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""
_CANCEL = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished', ARGV[1], 'cancel', '1')
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 'cancelled'
end
if state == 'running' then redis.call('HSET', KEYS[1], 'cancel', '1') end
return state
"""
_EVENT = """
local seq = redis.call('LLEN', KEYS[1]) + 1
redis.call('RPUSH', KEYS[1], '{"seq": ' .. seq .. ', ' .. ARGV[1])
return seq
"""


class RedisJobStore:
    """Jobs and events in Redis through ``conn`` (a ``redis.Redis``), with JobStore's methods."""

    def __init__(self, conn: Any, prefix: str = "aigc:studio:") -> None:
        self.r, self.prefix = conn, prefix
        self._claim = conn.register_script(_CLAIM)
        self._cancel = conn.register_script(_CANCEL)
        self._event = conn.register_script(_EVENT)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def close(self) -> None:
        self.r.close()

    # ------------------------------------------------------------------ change notification
    def _notify(self) -> None:
        self.r.incr(self._k("version"))
        self.r.publish(self._k("changed"), b"1")

    def wake(self) -> None:
        self._notify()

    def version(self) -> int:
        return int(self.r.get(self._k("version")) or 0)

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until the version moves past ``version`` (or ``timeout`` seconds); the new version."""
        pubsub = self.r.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._k("changed"))  # subscribed first, so no change slips between check and wait
            deadline = time.monotonic() + timeout
            while (now := self.version()) == version and (left := deadline - time.monotonic()) > 0:
                pubsub.get_message(timeout=left)
            return now
        finally:
            pubsub.close()

    # ------------------------------------------------------------------ jobs
    def add(self, kind: str, owner: str, spec: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex[:12]
        rank = self.r.incr(self._k("rank"))
        pipe = self.r.pipeline()
        pipe.hset(self._k("job", job_id), mapping={"kind": kind, "owner": owner, "state": "queued",
                                                   "spec": json.dumps(spec), "cancel": "0",
                                                   "created": repr(time.time()), "rank": rank})
        pipe.zadd(self._k("jobs"), {job_id: rank})
        pipe.zadd(self._k("queued"), {job_id: rank})
        pipe.execute()
        self._notify()
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self.r.hgetall(self._k("job", job_id))
        return self._row(job_id, raw) if raw else None

    def _row(self, job_id: str, raw: dict) -> dict[str, Any]:
        h = {k.decode(): v.decode() for k, v in raw.items()}
        number = lambda key: float(h[key]) if h.get(key) else None
        job = {"id": job_id, "kind": h["kind"], "owner": h["owner"], "state": h["state"],
               "spec": json.loads(h["spec"]), "result": json.loads(h["result"]) if h.get("result") else None,
               "error": h.get("error") or None, "cancel_requested": h.get("cancel") == "1",
               "created": number("created"), "started": number("started"), "finished": number("finished"),
               "position": None}
        if job["state"] == "queued":
            job["position"] = self.r.zcount(self._k("queued"), "-inf", f"({h['rank']}")
        return job

    def list(self, owner: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        out = []
        for raw_id in self.r.zrevrange(self._k("jobs"), 0, -1):
            job = self.get(raw_id.decode())
            if job is not None and (owner is None or job["owner"] == owner):
                out.append(job)
                if len(out) >= limit:
                    break
        return out

    def active_count(self, owner: str) -> int:
        ids = [i.decode() for i in self.r.zrange(self._k("queued"), 0, -1)]
        ids += [i.decode() for i in self.r.smembers(self._k("running"))]
        return sum(1 for i in ids if (self.r.hget(self._k("job", i), "owner") or b"").decode() == owner)

    def claim(self, job_id: str) -> dict[str, Any] | None:
        """Move queued job ``job_id`` to running and return it (None when it is no longer queued)."""
        keys = [self._k("job", job_id), self._k("queued"), self._k("running")]
        if not self._claim(keys=keys, args=[repr(time.time()), job_id]):
            return None
        self._notify()
        return self.get(job_id)

    def finish(self, job_id: str, state: str, *, result: Any = None, error: str | None = None) -> None:
        pipe = self.r.pipeline()
        pipe.hset(self._k("job", job_id), mapping={"state": state, "finished": repr(time.time()),
                                                   "result": json.dumps(result) if result is not None else "",
                                                   "error": error or ""})
        pipe.srem(self._k("running"), job_id)
        pipe.zrem(self._k("queued"), job_id)
        pipe.execute()
        self._notify()

    def request_cancel(self, job_id: str) -> str:
        """Cancel a queued job at once; mark a running one (its worker stops at the next step)."""
        state = self._cancel(keys=[self._k("job", job_id), self._k("queued")], args=[repr(time.time()), job_id])
        self._notify()
        return state.decode() if isinstance(state, bytes) else str(state)

    def cancel_requested(self, job_id: str) -> bool:
        return self.r.hget(self._k("job", job_id), "cancel") == b"1"

    def requeue(self, job_id: str, spec: dict[str, Any]) -> None:
        rank = self.r.incr(self._k("rank"))
        pipe = self.r.pipeline()
        pipe.hset(self._k("job", job_id), mapping={"state": "queued", "spec": json.dumps(spec), "cancel": "0",
                                                   "error": "", "finished": "", "rank": rank})
        pipe.zadd(self._k("jobs"), {job_id: rank})
        pipe.zadd(self._k("queued"), {job_id: rank})
        pipe.execute()
        self._notify()

    def recover(self) -> list[str]:
        """Nothing to do when the server restarts: running jobs belong to the workers, which go on."""
        return []

    def interrupt(self, job_id: str, message: str) -> None:
        """A worker died under a running job (its work horse was killed): mark it interrupted."""
        if self.r.hget(self._k("job", job_id), "state") == b"running":
            self.add_event(job_id, {"kind": "state", "state": "interrupted", "message": message})
            self.finish(job_id, "interrupted", error=message)

    # ------------------------------------------------------------------ events
    def add_event(self, job_id: str, event: dict[str, Any]) -> int:
        body = json.dumps({**event, "time": time.time()})  # never empty: "time" is always there
        seq = int(self._event(keys=[self._k("events", job_id)], args=[body[1:]]))
        self._notify()
        return seq

    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.r.lrange(self._k("events", job_id), after, after + limit - 1)]
