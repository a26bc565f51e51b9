"""Safe by default: loopback unless a token is set, bearer tokens, names that cannot escape the models
folder, uploads decoded and size-checked, request-size limits, JSON errors, CORS off unless asked."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from aigc.cli import main
from aigc.core.errors import BadInputError
from aigc.serve.config import Limits, ServeConfig


def png_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((height, width), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_binding_beyond_loopback_needs_a_token(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AIGC_TOKEN", raising=False)
    with pytest.raises(BadInputError, match="--token"):
        ServeConfig(models=tmp_path, host="0.0.0.0")
    assert ServeConfig(models=tmp_path, host="0.0.0.0", tokens=("s3cret-token",)).tokens == ("s3cret-token",)
    assert main(["serve", "--models", str(tmp_path), "--host", "0.0.0.0"]) == 2
    assert "--token" in capsys.readouterr().err
    monkeypatch.setenv("AIGC_TOKEN", "from-the-env-1")
    assert ServeConfig.tokens_from(None) == ("from-the-env-1",)


@pytest.mark.parametrize("flag, value", [("--batch-wait-ms", "11"), ("--batch-follow", "-0.5"),
                                         ("--batch-follow", "3"), ("--max-batch", "0")])
def test_batching_settings_out_of_range_get_one_clear_line(tmp_path, capsys, flag, value):
    try:
        code = main(["serve", "--models", str(tmp_path), flag, value])
    except SystemExit as exc:  # argparse's own check (--max-batch takes whole numbers >= 1)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err


def test_every_request_needs_the_token_when_one_is_set(fresh_models, make_studio):
    server = make_studio(fresh_models, tokens=("s3cret-token",))
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/api/models").status_code == 401
        assert c.get("/api/models", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        r = c.post("/api/models/image-gen/generate", json={"params": {"n": 1}})
        assert r.status_code == 401 and set(r.json()) == {"error"}
        ok = c.get("/api/models", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and [m["name"] for m in ok.json()] == ["image-gen"]


@pytest.mark.parametrize("path", ["/api/models/..%2F..%2Fetc", "/api/models/.studio", "/api/models/%2Fetc%2Fpasswd",
                                  "/api/outputs/..%2F..%2F/config.json", "/api/jobs/..%2Fjobs.sqlite",
                                  "/api/models/image-gen/..%2F..%2Fx/sample"])
def test_names_cannot_escape_the_models_folder(client, path):
    r = client.get(path)
    assert 400 <= r.status_code < 500 and set(r.json()) == {"error"}


@pytest.mark.parametrize("value", ["/etc/passwd", "folder:/etc", "../../secret", "model:../image-gen", "upload:../x",
                                   "~/.ssh/id_rsa"])
def test_parameters_cannot_name_server_files(client, value):
    r = client.post("/api/jobs", json={"kind": "train", "task": "image-gen", "model": "evil-" + str(abs(hash(value))),
                                       "params": {"data": value, "steps": 1}})
    job = r.json()
    if r.status_code == 201:  # refused when the job runs: the parser sees no path
        state = client.get(f"/api/jobs/{job['id']}/events").text
        assert '"state": "failed"' in state and ("names a file" in state or "not allowed" in state), state
    else:
        assert 400 <= r.status_code < 500


def test_uploads_are_decoded_and_size_checked(fresh_models, make_studio):
    server = make_studio(fresh_models, limits=Limits(pixels=64 * 64, request_bytes=200_000))
    with httpx.Client(base_url=server.url, timeout=30) as c:
        ok = c.post("/api/uploads", files={"file": ("a.png", png_bytes(32, 32), "image/png")}, data={"kind": "image"})
        assert ok.status_code == 200 and ok.json()["info"]["width"] == 32
        big = c.post("/api/uploads", files={"file": ("b.png", png_bytes(65, 64), "image/png")}, data={"kind": "image"})
        assert big.status_code == 400 and "max-pixels" in big.json()["error"]
        bad = c.post("/api/uploads", files={"file": ("c.png", b"\x89PNG not really", "image/png")},
                     data={"kind": "image"})
        assert bad.status_code == 400 and "not a readable image" in bad.json()["error"]
        wav = c.post("/api/uploads", files={"file": ("d.wav", b"RIFF....WAVE", "audio/wav")}, data={"kind": "wav"})
        assert wav.status_code == 400 and "WAV" in wav.json()["error"]
        huge = c.post("/api/uploads", files={"file": ("e.png", b"0" * 300_000, "image/png")}, data={"kind": "image"})
        assert huge.status_code == 413 and "max-request-bytes" in huge.json()["error"]
        limit = c.post("/api/models/image-gen/generate", json={"params": {"n": 10_000}})
        assert limit.status_code == 400 and "max-samples" in limit.json()["error"]


def test_errors_are_json_and_cors_is_off_unless_asked(client, fresh_models, make_studio):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and set(r.json()) == {"error"}
    pre = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/api/models", headers=pre).headers
    server = make_studio(fresh_models, cors=("http://elsewhere.example",))
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.options("/api/models", headers=pre).headers["access-control-allow-origin"] == "http://elsewhere.example"
