"""The audio task (strings only: nothing heavy is imported here)."""

from aigc.core.task import Task

__all__ = ["TASK"]

TASK = Task(
    name="audio",
    summary=("spoken digits (FSDD): a recogniser, a digit- and speaker-conditioned mel diffusion "
             "synthesiser, and a neural vocoder"),
    train_example="aigc train audio --arch recognizer --data fsdd --steps 3000 --out runs/fsdd-recognizer",
    architectures={
        "recognizer": "aigc.audio.recognizer:RecognizerObjective",
        "mel-diffusion": "aigc.audio.synth:MelDiffusionObjective",
        "vocoder": "aigc.audio.vocoder:VocoderObjective",
    },
    pipeline="aigc.audio.pipeline:AudioPipeline",
    settings="aigc.audio.train:AudioSettings",
    train="aigc.audio.train:train",
    train_parser="aigc.audio.cli:add_train_args",
    generate_parser="aigc.audio.cli:generate_parser",
    commands={
        "listen": ("print the digits a recogniser hears in a WAV file", "aigc.audio.cli:add_listen"),
        "speak": ("read a digit string aloud with a synthesiser (WAV out)", "aigc.audio.cli:add_speak"),
        "audio": (("edit audio files (gain, filters, EQ, compression, reverb, pitch, speed, denoise, "
                   "loudness, trim, fades)"), "aigc.audio.edit_cli:add_audio"),
    },
    evaluators={"audio": (("recogniser accuracy, and IS / Fréchet distance / conditional accuracy of "
                           "generated digits in the recogniser's features"), "aigc.audio.cli:add_eval_audio")},
    media=("wav", "png", "json"),
    smoke_train=("--arch", "mel-diffusion", "--data", "folder:{wavs}", "--channels", "8", "--n-mels", "16",
                 "--clip-seconds", "0.25", "--steps", "2", "--batch-size", "4"),
    smoke_run=("generate", "{model}", "--n", "1", "--steps", "2", "--out", "{out}/digit.wav"),
    demo="aigc.audio.demo:run",
    demo_seconds=91,
)
