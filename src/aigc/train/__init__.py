"""The one training loop (Trainer) and its pieces.

The names below are imported on first use, so ``aigc train TASK --help`` (which reads
``aigc.train.config``) does not pay for torch.
"""

from aigc.core.lazy import lazy_exports

__all__ = ["TrainConfig", "Trainer", "Objective", "StepContext", "TrainingInterrupted"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "TrainConfig": "config", "Trainer": "trainer", "Objective": "trainer", "StepContext": "trainer",
    "TrainingInterrupted": "trainer",
})
