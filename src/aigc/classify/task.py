"""The classify task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

__all__ = ["TASK"]

TASK = Task(
    name="classify",
    summary="image classifiers (a small CNN; the model the privacy and robustness tools audit)",
    train_example="aigc train classify --data digits --steps 500 --out runs/digits-cnn",
    architectures={"cnn": "aigc.classify.model:ClassifierObjective"},
    pipeline="aigc.classify.pipeline:ClassifyPipeline",
    settings="aigc.classify.train:ClassifySettings",
    train="aigc.classify.train:train",
    train_parser="aigc.classify.cli:add_train_args",
    commands={"classify": ("print the class a trained classifier sees in each image",
                           "aigc.classify.cli:add_classify")},
    evaluators={"classify": ("accuracy and NLL of a classifier on labelled images",
                             "aigc.classify.cli:add_eval_classify")},
    media=("json",),
    demo="aigc.classify.demo:run",
    demo_seconds=2,
    smoke_train=("--data", "digits", "--widths", "4,8", "--hidden", "8", "--steps", "3", "--batch-size", "16"),
    smoke_run=("classify", "{model}", "{image}", "--out", "{out}/pred.json"),
)
