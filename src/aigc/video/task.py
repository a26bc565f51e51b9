"""The video task's entry in the task registry (strings only: nothing heavy is imported here)."""

from __future__ import annotations

from aigc.core.task import Task

__all__ = ["TASK"]

TASK = Task(
    name="video",
    summary="frame prediction (ConvLSTM, SimVP, layered sprites), frame interpolation and class-conditional clip "
            "generation on Moving MNIST; GIF/MP4 out",
    architectures={
        "convlstm": "aigc.video.objectives:ConvLSTMObjective",
        "simvp": "aigc.video.objectives:SimVPObjective",
        "layered": "aigc.video.objectives:LayeredObjective",
        "interp": "aigc.video.objectives:InterpolationObjective",
        "diffusion": "aigc.video.generation:ClipDiffusionObjective",
        "clip-classifier": "aigc.video.classifier:ClipClassifierObjective",
    },
    pipeline="aigc.video.pipeline:VideoPipeline",
    settings="aigc.video.train:VideoSettings",
    train="aigc.video.train:train",
    train_parser="aigc.video.cli:add_train_args",
    train_example="aigc train video --arch simvp --data moving-mnist --steps 3000 --out runs/simvp",
    generate_parser="aigc.video.cli:generate_parser",
    commands={
        "predict": ("predict the next frames of a clip with a video model", "aigc.video.cli:add_predict"),
        "interpolate": ("insert predicted in-between frames into a clip", "aigc.video.cli:add_interpolate"),
    },
    evaluators={"video": ("score a video model on the fixed Moving MNIST test set",
                          "aigc.video.cli:add_eval_video")},
    media=("gif", "mp4", "png", "json"),
    smoke_train=("--arch", "diffusion", "--data", "moving-digits", "--sequences", "64", "--frames", "4", "--width", "16",
                 "--layers", "1", "--steps", "2", "--batch-size", "4", "--no-validate"),
    smoke_run=("generate", "{model}", "--frames", "4", "--steps", "2", "--prompt", "seven", "--out", "{out}/clip.gif"),
    demo="aigc.video.demo:run",
    demo_seconds=48,
)
