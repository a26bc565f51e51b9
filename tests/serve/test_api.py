"""The studio's API against the real server on loopback: tasks and models from the registry, generate
for every task (files equal to the Pipeline's own), dynamic batching byte-equal to single requests,
text streaming equal to ``TextPipeline.generate``."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from serve.helpers import command_output, same_png

import aigc
from aigc.core.artifacts import read_recipe
from aigc.core.modeldir import model_id
from aigc.core.registry import TASKS, task


def smoke_params(argv) -> dict:
    """The flags of a task's ``smoke_run`` (after its model) as request params, without --out."""
    words = [w for w in argv[1:] if w != "{model}"]
    params, i = {}, 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--"):
            i += 1
            continue
        key = word[2:].replace("-", "_")
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            params[key], i = words[i + 1], i + 2
        else:
            params[key], i = True, i + 1
    params.pop("out", None)
    return params


def test_tasks_come_from_the_registry(client):
    body = client.get("/api/tasks").json()
    assert [t["name"] for t in body] == list(TASKS)
    for entry in body:
        t = task(entry["name"])
        assert entry["media"] == list(t.media) and entry["architectures"] == sorted(t.architectures)
        assert ("generate" in entry["commands"]) == bool(t.generate_parser)


def test_models_list_and_detail(client, models_dir):
    listed = {m["name"]: m for m in client.get("/api/models").json()}
    assert set(TASKS) | {"ddpm"} <= set(listed)  # and what training jobs of other tests made
    detail = client.get("/api/models/image-gen").json()
    assert detail["task"] == "image-gen" and detail["architecture"] == "dcgan"
    assert detail["model_id"] == model_id(models_dir / "image-gen")
    assert detail["settings"]["image_size"] == 8 and "path" not in detail
    assert detail["train"]["steps"] == 2 and detail["step"] == 2
    sample = client.get(detail["sample_url"])
    assert sample.status_code == 200 and sample.content[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", list(TASKS))
def test_generate_for_every_task(client, models_dir, tmp_path, name):
    t = task(name)
    params = smoke_params(t.smoke_run)
    r = client.post(f"/api/models/{name}/generate", json={"params": params})
    if not t.generate_parser:
        assert r.status_code == 400 and "no generate command" in r.json()["error"]
        return
    assert r.status_code == 200, r.text
    files = r.json()["files"]
    for f in files:  # every file, so a sidecar recipe sits beside its file as aigc wrote it
        got = client.get(f["url"])
        assert got.status_code == 200 and got.content
        (tmp_path / f["name"]).write_bytes(got.content)
    main = tmp_path / next(f["name"] for f in files if f["name"] == "out." + t.media[0])
    recipe = read_recipe(main)
    assert recipe["model_id"] == model_id(models_dir / name) and recipe["task"] == name


def test_image_equals_the_command_lines(client, models_dir, tmp_path):
    r = client.post("/api/models/image-gen/generate", json={"params": {"n": 4, "seed": 3}})
    served = client.get(r.json()["files"][0]["url"]).content
    command_output(models_dir / "image-gen", {"n": 4, "seed": 3}, tmp_path / "direct.png")
    assert same_png(served, tmp_path / "direct.png", ["generate", str(models_dir / "image-gen")])


def _concurrent(client, name, requests):
    results = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def one(i, params):
        barrier.wait()
        r = client.post(f"/api/models/{name}/generate", json={"params": params})
        results[i] = client.get(r.json()["files"][0]["url"]).content if r.status_code == 200 else r.text

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(requests)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


@pytest.mark.parametrize("name, extra, labels", [("image-gen", {}, False), ("ddpm", {"steps": 3}, False),
                                                  ("ddpm", {"steps": 3}, True)])
def test_dynamic_batching_gives_each_request_its_own_bytes(client, studio, models_dir, tmp_path, name, extra,
                                                           labels, monkeypatch):
    import aigc.core.pipeline

    if not hasattr(aigc.core.pipeline, "providing"):
        pytest.skip("needs aigc.core.pipeline.providing (the studio's hook into aigc.load); batching is off")
    if labels:  # a per-row option (one class per image) may differ within a batch
        pipe = studio[1].studio.generator.pipeline(name, models_dir / name)
        if "labels" not in getattr(pipe, "row_options", ()):
            monkeypatch.setattr(type(pipe), "row_options", ("labels",), raising=False)
    requests = [{"n": 1 + i % 3, "seed": 100 + i, **extra, **({"label": i % 4} if labels else {})}
                for i in range(8)]
    before = len(studio[1].studio.generator.batch_sizes())
    batched = _concurrent(client, name, requests)
    sizes = studio[1].studio.generator.batch_sizes()[before:]
    # with labels, a batch above 2 mixes labels (each label has 2 requests)
    assert sum(sizes) == len(requests) and max(sizes) > (2 if labels else 1), f"no batch formed: {sizes}"
    stats = client.get("/api/stats").json()
    assert sum(int(k) * v for k, v in stats["batches"].items()) >= len(requests) and stats["rss_mb"] > 0
    # alone: the task's own `aigc generate` function, one request at a time, no server
    for i, params in enumerate(requests):
        command_output(models_dir / name, params, tmp_path / f"alone{i}.png")
        assert same_png(batched[i], tmp_path / f"alone{i}.png"), f"request {i} ({params}) differs from its single run"


def test_text_streams_the_pipelines_text(client, models_dir):
    params = {"max_tokens": 12, "seed": 5, "temperature": 0.9}
    with client.stream("POST", "/api/models/text/generate",
                       json={"stream": True, "prompt": "The", "params": params}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        pieces, done = [], False
        for line in r.iter_lines():
            if line.startswith("data: ") and not done:
                body = json.loads(line[6:])
                if "text" in body:
                    pieces.append(body["text"])
            done = done or line == "event: done"
    assert done and len(pieces) >= 2
    pipe = aigc.load(models_dir / "text", device="cpu")
    assert "".join(pieces) == pipe.generate("The", **params)


def test_text_generate_writes_what_the_command_writes(client, models_dir, tmp_path):
    r = client.post("/api/models/text/generate",
                    json={"params": {"prompt": ["The"], "max_tokens": 6, "seed": 2}})
    names = {f["name"]: f["url"] for f in r.json()["files"]}
    assert set(names) == {"out.txt", "out.txt.json"}
    recipe = client.get(names["out.txt.json"]).json()
    assert recipe["seed"] == 2 and recipe["max_tokens"] == 6 and recipe["model_id"] == model_id(models_dir / "text")
    from aigc.core.registry import resolve

    out = tmp_path / "alone.txt"
    args = resolve(task("text").generate_parser)(str(models_dir / "text")).parse_args(
        ["--prompt=The", "--max-tokens=6", "--seed=2", f"--out={out}", "--device=cpu"])
    args.func(args)
    assert client.get(names["out.txt"]).content == out.read_bytes()


def test_bad_parameters_are_one_json_line(client):
    for params, needle in (({"o": "x.png"}, "unknown parameter 'o'"), ({"out": "x.png"}, "set by the studio"),
                           ({"n": "many"}, "--n: expected a whole number"), ({"n": 0}, "n"), ({"help": True}, "set by the studio")):
        r = client.post("/api/models/image-gen/generate", json={"params": params})
        assert r.status_code == 400, (params, r.text)
        body = r.json()
        assert set(body) == {"error"} and needle in body["error"] and "Traceback" not in body["error"]


def test_threads_set_the_models_intra_op_threads_and_stats_report_them(fresh_models, make_studio):
    import torch

    from aigc.core.errors import BadInputError
    from aigc.serve.config import ServeConfig

    with pytest.raises(BadInputError, match="--threads"):
        ServeConfig(models=fresh_models, threads=0)
    before = torch.get_num_threads()
    try:
        server = make_studio(fresh_models, threads=before + 1)
        with httpx.Client(base_url=server.url, timeout=60) as c:
            stats = c.get("/api/stats").json()
        assert stats["threads"] == before + 1 == torch.get_num_threads() and stats["batches"] == {}
    finally:
        torch.set_num_threads(before)
