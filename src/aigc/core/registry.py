"""The registry of tasks: one plain dict, task name -> ``"module:TASK"`` (a :class:`~aigc.core.task.Task`).

Adding a task is one folder plus one line here. The CLI, ``aigc.load``, ``aigc eval``, ``aigc info``,
the demo and the benchmarks enumerate tasks from it; targets are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from aigc.core.errors import BadInputError

__all__ = ["TASKS", "resolve", "task", "tasks", "task_architectures", "architecture"]

TASKS: dict[str, str] = {
    "image-gen": "aigc.image_gen.task:TASK",
    "restore": "aigc.restore.task:TASK",
    "text": "aigc.text.task:TASK",
    "recommend": "aigc.recommend.task:TASK",
    "music": "aigc.music.task:TASK",
    "video": "aigc.video.task:TASK",
    "audio": "aigc.audio.task:TASK",
    "classify": "aigc.classify.task:TASK",
}


def resolve(target: str) -> Any:
    """Import ``"package.module:Attr"`` and return the attribute."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def task(name: str) -> Any:
    """The :class:`~aigc.core.task.Task` registered as ``name``, or a clear error listing them."""
    if name not in TASKS:
        raise BadInputError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return resolve(TASKS[name])


def tasks() -> list[Any]:
    """Every registered :class:`~aigc.core.task.Task`, in registry order."""
    return [resolve(target) for target in TASKS.values()]


def task_architectures(name: str) -> Mapping[str, str]:
    """Architecture name -> objective target of task ``name``."""
    return task(name).architectures


def architecture(task_name: str, name: str) -> Any:
    """The objective class registered for ``task_name``/``name``, or a clear error listing choices."""
    table = task_architectures(task_name)
    if name not in table:
        raise BadInputError(f"unknown {task_name} architecture {name!r}; choose one of {sorted(table)}")
    return resolve(table[name])
