"""The one training loop (Trainer) and its pieces."""

from aigc.train.config import TrainConfig
from aigc.train.trainer import Objective, StepContext, Trainer, TrainingInterrupted

__all__ = ["TrainConfig", "Trainer", "Objective", "StepContext", "TrainingInterrupted"]
