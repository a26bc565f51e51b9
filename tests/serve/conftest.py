"""Fixtures of the studio tests: tiny models of every task (trained once per session through the CLI,
as a user would) and a running studio on a free loopback port."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from contract.conftest import image_folder, midi_folder, ratings_csv, wav_folder  # noqa: F401  (fixtures)

from aigc.cli import main
from aigc.core.registry import TASKS, task
from aigc.serve.config import Limits, ServeConfig
from aigc.serve.server import ThreadedServer, free_port

# beyond each task's own smoke model: a class-conditional diffusion model and a char GPT for streaming
EXTRA = {
    "ddpm": ("image-gen", ["--arch", "ddpm", "--cond", "--data", "digits", "--image-size", "8", "--steps", "2",
                           "--batch-size", "8"]),
}


def fill(argv, **values) -> list[str]:
    return [str(a).format(**{k: str(v) for k, v in values.items()}) for a in argv]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, image_folder, ratings_csv, midi_folder, wav_folder) -> Path:  # noqa: F811
    """One smoke-trained model per registered task (named after the task), plus EXTRA."""
    root = tmp_path_factory.mktemp("models")
    values = {"images": image_folder, "image": image_folder / "0.png", "ratings": ratings_csv,
              "midis": midi_folder, "wavs": wav_folder, "out": root}
    jobs = {name: (name, fill(task(name).smoke_train, **values)) for name in TASKS}
    jobs.update(EXTRA)
    for name, (task_name, argv) in jobs.items():
        assert main(["train", task_name, *argv, "--out", str(root / name), "--no-progress", "--device", "cpu"]) == 0
    return root


def start(models: Path, **options) -> ThreadedServer:
    limits = options.pop("limits", None) or Limits()
    options.setdefault("event_interval_s", 0.0)  # every event stored: the tests count steps
    config = ServeConfig(models=models, port=free_port(), device="cpu", limits=limits, **options)
    server = ThreadedServer(config)
    server.start()
    return server


@pytest.fixture
def make_studio():
    """Start studios with ``make_studio(models, **ServeConfig options)``; all are stopped after the test."""
    servers = []

    def make(models: Path, **options) -> ThreadedServer:
        servers.append(start(models, **options))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def studio(models_dir):
    """A studio over the session's models: (base URL, ThreadedServer)."""
    server = start(models_dir, limits=Limits(jobs_per_user=50, batch_wait_ms=10))
    yield server.url, server
    server.stop()


@pytest.fixture
def client(studio):
    with httpx.Client(base_url=studio[0], timeout=120) as c:
        yield c


@pytest.fixture
def fresh_models(models_dir, tmp_path) -> Path:
    """A private copy of the image-gen model (for tests that start their own studio)."""
    root = tmp_path / "models"
    root.mkdir()
    for name in ("image-gen",):
        shutil.copytree(models_dir / name, root / name, ignore=shutil.ignore_patterns(".studio"))
    return root

