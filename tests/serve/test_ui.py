"""The web UI's files and the routes it relies on: served by the studio itself with nothing from a CDN,
an offline /docs page beside /openapi.json, and the per-model form built from the task's own parser."""

from __future__ import annotations

import re

import pytest

from aigc.core.registry import TASKS, resolve, task
from aigc.serve.app import STATIC


def test_the_ui_is_served_and_needs_nothing_from_the_internet(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="gallery"' in page.text and 'id="job-list"' in page.text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert {"/static/app.js", "/static/style.css"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200
    for path in STATIC.iterdir():  # no file reaches out: no absolute http(s) URL anywhere
        assert not re.search(r"https?://", path.read_text()), path.name
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text and "swagger-ui" not in docs.text
    assert client.get("/redoc").status_code == 404
    spec = client.get("/openapi.json").json()
    assert "/api/models/{name}/form" in spec["paths"] and "/" not in spec["paths"]


def test_every_input_of_the_page_has_a_label():
    html = (STATIC / "index.html").read_text()
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html)
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids and set(ids) <= labelled, set(ids) - labelled


@pytest.mark.parametrize("name", [n for n in TASKS if task(n).generate_parser])
def test_the_form_lists_the_commands_own_flags(client, models_dir, name):
    form = client.get(f"/api/models/{name}/form").json()
    parser = resolve(task(name).generate_parser)(str(models_dir / name))
    dests = {a.dest for a in parser._actions if a.option_strings}
    names = {f["name"] for f in form["fields"]}
    assert names <= dests and not names & {"out", "device", "help"}
    assert form["task"] == name and form["streams"] == (name == "text")
    for f in form["fields"]:
        action = next(a for a in parser._actions if a.dest == f["name"])
        assert f["default"] == (action.default if action.default is not None else None) or f["default"] is None
    assert client.get(f"/api/models/{name}/form", params={"command": "nope"}).status_code == 400


def test_form_kinds_round_trip_through_the_generate_route(client):
    form = {f["name"]: f for f in client.get("/api/models/image-gen/form").json()["fields"]}
    assert form["n"]["kind"] == "int" and form["guidance"]["kind"] == "float" and form["prompt"]["kind"] == "str"
    assert form["watermark"]["kind"] == "bool" and form["watermark"]["off"] == "no_watermark"
    # the box is ticked by default, so its help says what unticking it does (not the flag's "leave out ...")
    assert form["watermark"]["default"] is True and form["watermark"]["help"].startswith("untick for --no-watermark:")
    r = client.post("/api/models/image-gen/generate", json={"params": {"n": 2, "no_watermark": True}})
    assert r.status_code == 200, r.text
