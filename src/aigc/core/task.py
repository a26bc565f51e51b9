"""The task contract: everything the CLI, ``aigc.load``, ``aigc eval``, the demo, the benchmarks and
the server need to know about a task, in one description.

Each task package has a ``task.py`` with ``TASK = Task(...)`` that imports nothing heavy (strings
only: every target is ``"module:attribute"``, imported when used). ``aigc.core.registry.TASKS`` maps
the task's name to that description, so adding a task is one folder plus one line there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Task", "MEDIA"]

# what a task may write; ``aigc.core.artifacts`` has a writer (with the recipe embedded) for each
MEDIA = ("png", "wav", "mid", "gif", "mp4", "txt", "json")


@dataclass(frozen=True, kw_only=True)
class Task:
    """One task (image-gen, text, music, ...), described by import targets ``"module:attr"``.

    - ``architectures``: architecture name -> its objective class (whose ``config_class`` is the
      model config saved in config.json).
    - ``pipeline``: the :class:`aigc.core.pipeline.Pipeline` subclass that ``aigc.load`` returns.
    - ``settings``: a keyword-only dataclass of everything ``train`` needs besides the
      :class:`~aigc.train.config.TrainConfig`; its field names equal the CLI flag destinations, it is
      stored in config.json, and ``--resume`` rebuilds the run from it alone.
    - ``train``: ``train(settings, config, out, *, resume=False) -> summary``, the only way to train
      the task (CLI, demo, benchmarks and server call it).
    - ``train_parser``: ``f(parser)`` adding the task's own flags to ``aigc train <task>``.
    - ``generate_parser``: ``f(model_dir) -> ArgumentParser`` for ``aigc generate DIR``.
    - ``commands``: extra top-level commands, name -> (one-line help, ``f(subparsers)``).
    - ``model_commands``: commands that take a model directory first and whose options depend on the
      model's task (``aigc inpaint DIR ...``), name -> (one-line help, ``f(model_dir) -> ArgumentParser``).
    - ``evaluators``: ``aigc eval <kind>`` entries, kind -> (one-line help, ``f(subparsers)``).
    - ``media``: the artifact types the task writes (see :data:`MEDIA`).
    - ``demo``: ``run(out_dir, seed) -> {"title", "html", "figures"}`` for ``make demo``.
    - ``demo_seconds``: about how long that demo runs on one core of a 2-core machine; a first
      ``make demo`` starts the longest first (later runs use the times their last report measured).
    - ``smoke_train`` / ``smoke_run``: a few-step ``aigc train <task>`` argv and one command using
      the trained model (``{model}``, ``{out}``, ``{image}``, ``{images}`` (a folder of photos) and
      ``{ratings}`` (a user,item,rating CSV), ``{midis}`` (a folder of MIDI chorales), ``{wavs}`` (a folder of WAV clips, one sub-folder per
      label) are filled in by the test that walks
      every task through train -> run -> info -> load; a task without them fails that test).
    - ``quality``: ``"module:fn"`` with ``fn(pipeline, data_path) -> float``, the task's quality
      figure on held-out data, lower is better (``aigc compress`` gates on it); ``"module:fn#key"``
      takes ``key`` of a returned mapping.
    """

    name: str
    summary: str
    architectures: Mapping[str, str]
    pipeline: str
    settings: str
    train: str
    train_parser: str
    train_example: str = ""
    generate_parser: str | None = None
    commands: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    model_commands: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    evaluators: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    media: tuple[str, ...] = ()
    demo: str | None = None
    demo_seconds: float | None = None
    smoke_train: tuple[str, ...] = ()
    smoke_run: tuple[str, ...] = ()
    quality: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.media) - set(MEDIA))
        if unknown:
            raise ValueError(f"task {self.name!r}: unknown media {unknown}; known: {MEDIA}")
        if not self.architectures:
            raise ValueError(f"task {self.name!r} has no architectures")
