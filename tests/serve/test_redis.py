"""Scale-out on a real Redis: ``aigc serve --queue redis://...`` with two ``aigc worker`` processes.
Jobs complete on both workers with the files the embedded runtime writes, progress events arrive in
order through the server, and a cancel stops a running training job at a step with its checkpoint."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys

import httpx
import pytest
from serve.helpers import command_output, same_png
from serve.test_jobs import TINY, events

import aigc
from aigc.core.errors import BadInputError
from aigc.core.modeldir import weights_metadata
from aigc.serve.server import free_port

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="needs redis-server (Debian: apt-get install redis-server; "
                                                      ".ci/run installs it)")
pytest.importorskip("rq", reason="needs rq and redis (pip install rq redis)")


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout:  # bounded by the process: EOF when it exits
        if b"Ready to accept connections" in line:
            break
    assert proc.poll() is None, "redis-server did not start"
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.communicate(timeout=30)


def start_worker(url: str, models, name: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aigc.cli", "worker", "--queue", url, "--models", str(models),
                             "--device", "cpu", "--name", name], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    line = proc.stdout.readline().decode()
    assert "aigc worker" in line, line + proc.stdout.read().decode()
    return proc


def stop_worker(proc: subprocess.Popen) -> str:
    # every job has ended here; the second signal is RQ's cold shutdown (a job still in hand after a
    # failed assertion is stopped rather than waited for)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


def test_two_workers_run_jobs_and_cancel_works(redis_url, fresh_models, make_studio, tmp_path):
    server = make_studio(fresh_models, queue=redis_url)
    workers = [start_worker(redis_url, fresh_models, f"w{i}") for i in (1, 2)]
    try:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            train = c.post("/api/jobs", json={"kind": "train", "task": "image-gen", "model": "redis-dcgan", "params": {
                **TINY, "steps": 50_000, "checkpoint_every": 10_000}}).json()
            gens = [c.post("/api/jobs", json={"kind": "generate", "model": "image-gen",
                                              "params": {"n": 2, "seed": s}}).json() for s in (1, 2, 3)]
            assert [g["state"] for g in gens] == ["queued"] * 3
            seen = events(c, train["id"], until=lambda e: e["kind"] == "train" and e["done"] >= 3)
            ran_on = {}
            for g in gens:
                got = events(c, g["id"])
                assert [e["seq"] for e in got] == list(range(1, len(got) + 1))
                assert got[-1]["state"] == "done", got
                ran_on[g["id"]] = next(e["worker"] for e in got if e.get("state") == "running")
            train_worker = next(e["worker"] for e in seen if e.get("state") == "running")
            # the training holds one worker, so the other ran every generate job
            assert {train_worker, *ran_on.values()} == {"w1", "w2"} and train_worker not in ran_on.values()
            files = c.get(f"/api/jobs/{gens[0]['id']}").json()["files"]
            assert [f["name"] for f in files] == ["out.png"]
            command_output(fresh_models / "image-gen", {"n": 2, "seed": 1}, tmp_path / "alone.png")
            assert same_png(c.get(files[0]["url"]).content, tmp_path / "alone.png",
                            ["generate", str(fresh_models / "image-gen")])

            assert c.post(f"/api/jobs/{train['id']}/cancel").status_code == 200
            rest = events(c, train["id"])
            assert rest[-1]["state"] == "cancelled"
            job = c.get(f"/api/jobs/{train['id']}").json()
            assert job["state"] == "cancelled" and "checkpoint saved" in job["error"]
            # the worker stores train events at most every 0.1 s, so the job's error says where it stopped
            # (the embedded test shows the stop is within one step; the reporter is the same code)
            saved = int(re.search(r"cancelled at step (\d+)", job["error"]).group(1))
            step = int(weights_metadata(fresh_models / "redis-dcgan" / "model.safetensors")["step"])
            assert step == saved < 50_000 and step >= max(e["done"] for e in rest if e["kind"] == "train")
            assert aigc.load(fresh_models / "redis-dcgan", device="cpu").generate(1, seed=0).shape == (1, 1, 8, 8)
            listed = {j["id"]: j["state"] for j in c.get("/api/jobs").json()}
            assert listed == {train["id"]: "cancelled", **{g["id"]: "done" for g in gens}}
    finally:
        logs = [stop_worker(w) for w in workers]
    assert all("Traceback" not in log for log in logs), logs


def test_a_queue_that_is_not_redis_is_one_clear_line(fresh_models):
    from aigc.serve.config import ServeConfig

    with pytest.raises(BadInputError, match="Redis URL"):
        ServeConfig(models=fresh_models, queue="amqp://127.0.0.1")
    with pytest.raises(BadInputError, match="cannot reach Redis"):
        from aigc.serve.scaleout import connect

        connect(f"redis://127.0.0.1:{free_port()}/0")
