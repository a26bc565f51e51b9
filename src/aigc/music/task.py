"""The music task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

TASK = Task(
    name="music",
    summary="polyphonic symbolic music (JSB Chorales, MIDI): RNN-NADE, event Transformer, Coconet infilling",
    train_example="aigc train music --arch frame --data jsb:quarter --steps 3000 --out runs/jsb-frame",
    architectures={
        "frame": "aigc.music.frame:FrameObjective",
        "transformer": "aigc.music.transformer:EventObjective",
        "infill": "aigc.music.infill:InfillObjective",
    },
    pipeline="aigc.music.pipeline:MusicPipeline",
    settings="aigc.music.train:MusicSettings",
    train="aigc.music.train:train",
    train_parser="aigc.music.cli:add_train_args",
    generate_parser="aigc.music.cli:generate_parser",
    commands={"harmonize": ("write alto, tenor and bass under a melody (MIDI in, MIDI out)",
                            "aigc.music.cli:add_harmonize")},
    evaluators={"music": ("framewise NLL, note accuracy and MusPy-style descriptors of a music model",
                          "aigc.music.evaluate:add_eval_music")},
    media=("mid", "png", "wav"),
    smoke_train=("--arch", "frame", "--data", "folder:{midis}", "--steps-per-beat", "2", "--hidden", "16", "--layers",
                 "1", "--nade-hidden", "8", "--batch-size", "2", "--steps", "2"),
    smoke_run=("generate", "{model}", "--bars", "1", "--out", "{out}/tune.mid"),
    demo="aigc.music.demo:run",
    demo_seconds=28,
)
