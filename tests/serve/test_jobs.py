"""Jobs on the real server: progress events in order, a real cancel that keeps a loadable checkpoint,
and a restart (the server process killed) that interrupts the running job and runs the queued one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest

import aigc
from aigc.core.modeldir import weights_metadata
from aigc.serve.server import free_port

TINY = {"arch": "dcgan", "data": "digits", "image_size": 8, "features": 16, "latent_dim": 4, "batch_size": 8}


def events(client, job_id, until=None):
    """The job's SSE events in arrival order (stops early when ``until(event)`` is true)."""
    out = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: {}":
                out.append(json.loads(line[6:]))
                if until is not None and until(out[-1]):
                    break
    return out


def test_training_job_reports_progress_in_order_and_its_model_is_served(client):
    r = client.post("/api/jobs", json={"kind": "train", "task": "image-gen", "model": "job-dcgan",
                                       "params": {**TINY, "steps": 6, "checkpoint_every": 2}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "queued" and job["position"] is not None
    got = events(client, job["id"])
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
    steps = [e["done"] for e in got if e["kind"] == "train"]
    assert steps == sorted(steps) and steps[-1] == 6 and all(e["total"] == 6 for e in got if e["kind"] == "train")
    assert any(e["kind"] == "checkpoint" for e in got) and got[-1] == {**got[-1], "kind": "state", "state": "done"}
    assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "done"
    detail = client.get("/api/models/job-dcgan").json()
    assert detail["step"] == 6 and detail["settings"]["latent_dim"] == 4


def test_cancel_stops_training_within_a_step_and_keeps_a_loadable_checkpoint(client, studio):
    r = client.post("/api/jobs", json={"kind": "train", "task": "image-gen", "model": "job-cancel",
                                       "params": {**TINY, "steps": 50_000, "checkpoint_every": 10_000}})
    job_id = r.json()["id"]
    events(client, job_id, until=lambda e: e["kind"] == "train" and e["done"] >= 3)
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    seen = max(e["done"] for e in client_events(client, job_id) if e["kind"] == "train")
    rest = events(client, job_id)
    assert rest[-1]["kind"] == "state" and rest[-1]["state"] == "cancelled"
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "cancelled" and "checkpoint saved" in job["error"]
    model = studio[1].config.models / "job-cancel"
    assert str(studio[1].config.models) not in job["error"]  # the server's folders are not the client's business
    step = int(weights_metadata(model / "model.safetensors")["step"])
    assert f"cancelled at step {step};" in job["error"]
    # reporting step s happens before the cancel check of step s: at most the step in flight finishes
    assert step <= seen + 1 and step < 50_000
    pipe = aigc.load(str(model), device="cpu")
    assert pipe.generate(2, seed=0).shape == (2, 1, 8, 8)


def client_events(client, job_id):
    return [e for e in json.loads("[" + ",".join(
        line[6:] for line in client.get(f"/api/jobs/{job_id}/events").text.splitlines()
        if line.startswith("data: ") and line != "data: {}") + "]")]


def test_cancel_a_queued_job_and_the_per_user_limit(fresh_models, tmp_path, make_studio):
    from aigc.serve.config import Limits

    server = make_studio(fresh_models, limits=Limits(jobs_per_user=2))
    with httpx.Client(base_url=server.url, timeout=60) as c:
        long = {"kind": "train", "task": "image-gen", "params": {**TINY, "steps": 50_000}}
        first = c.post("/api/jobs", json={**long, "model": "q1"}).json()
        second = c.post("/api/jobs", json={**long, "model": "q2"}).json()
        third = c.post("/api/jobs", json={**long, "model": "q3"})
        assert third.status_code == 429 and "max-jobs-per-user" in third.json()["error"]
        assert c.post(f"/api/jobs/{second['id']}/cancel").json()["state"] == "cancelled"
        c.post(f"/api/jobs/{first['id']}/cancel")
        assert events(c, first["id"])[-1]["state"] == "cancelled"


def test_restart_interrupts_the_running_job_runs_the_queued_one_and_resumes(fresh_models, make_studio):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aigc.cli", "serve", "--models", str(fresh_models), "--port",
                             str(port), "--device", "cpu"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first_line = proc.stdout.readline().decode()  # printed once the app is built, before it listens
        assert "aigc studio on" in first_line, first_line
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          transport=httpx.HTTPTransport(retries=20)) as c:
            for _ in range(200):  # bounded: the socket opens right after the line above
                try:
                    c.get("/api/tasks")
                    break
                except httpx.ConnectError:
                    continue
            running = c.post("/api/jobs", json={"kind": "train", "task": "image-gen", "model": "long",
                                                "params": {**TINY, "steps": 50_000, "checkpoint_every": 2}}).json()
            queued = c.post("/api/jobs", json={"kind": "generate", "model": "image-gen",
                                               "params": {"n": 2, "seed": 1}}).json()
            events(c, running["id"], until=lambda e: e["kind"] == "checkpoint")
            assert c.get(f"/api/jobs/{queued['id']}").json()["position"] == 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    server = make_studio(fresh_models)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        assert c.get(f"/api/jobs/{running['id']}").json()["state"] == "interrupted"
        assert events(c, queued["id"])[-1]["state"] == "done"
        assert [f["name"] for f in c.get(f"/api/jobs/{queued['id']}").json()["files"]] == ["out.png"]
        step = int(weights_metadata(fresh_models / "long" / "model.safetensors")["step"])
        r = c.post(f"/api/jobs/{running['id']}/resume", json={"steps": step + 3})
        assert r.status_code == 200 and r.json()["state"] == "queued"
        assert events(c, running["id"])[-1]["state"] == "done"
        assert int(weights_metadata(fresh_models / "long" / "model.safetensors")["step"]) == step + 3


@pytest.mark.parametrize("spec, needle", [
    ({"kind": "train", "task": "image-gen", "model": "../evil", "params": {}}, "model name"),
    ({"kind": "train", "task": "nope", "model": "x", "params": {}}, "unknown task"),
    ({"kind": "train", "task": "image-gen", "model": "image-gen", "params": {}}, "exists"),
    ({"kind": "generate", "model": "missing", "params": {}}, "no model named"),
    ({"kind": "eval"}, "needs eval"),
])
def test_bad_job_requests_are_refused_before_queueing(client, spec, needle):
    r = client.post("/api/jobs", json=spec)
    assert 400 <= r.status_code < 500 and needle in r.json()["error"]
