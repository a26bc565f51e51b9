"""``aigc verify``: read a file's recipe, find its watermark, decode the payload, say how sure.

The medium comes from the file's suffix (a folder is a video of PNG frames, each carrying the image
watermark; their votes are summed). Images, audio, MIDI and video are decoded blind (the CRC
tells a payload from noise); when a model id is known (``--model DIR`` or the recipe's
``model_id``) its payload is also tested directly, which gives a z-score and p-value and also
catches marks too damaged for the CRC. Text needs the tokenizer of its model (``--model DIR`` or
the model path recorded in the recipe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aigc.core.errors import BadInputError
from aigc.tools.provenance.payload import Detection, payload_bits

__all__ = ["MEDIA", "Verdict", "verify"]

MEDIA = {".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image", ".bmp": "image", ".tif": "image",
         ".tiff": "image", ".wav": "audio", ".ogg": "audio", ".flac": "audio", ".mp3": "audio",
         ".mid": "midi", ".midi": "midi", ".gif": "video", ".mp4": "video", ".webm": "video", ".mkv": "video",
         ".mov": "video"}


@dataclass
class Verdict:
    path: str
    medium: str
    detection: Detection
    recipe: dict[str, Any] | None = None
    model_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.detection.found

    def line(self) -> str:
        d = self.detection
        if d.found:
            carried = f", payload {d.payload}, flag {d.flag}" if d.payload is not None else ", green-list"
            head = f"{self.path}: watermark found ({self.medium}{carried}"
        else:
            head = f"{self.path}: no watermark found ({self.medium}"
        stats = [f"bit accuracy {d.bit_accuracy:.1%}" if d.bit_accuracy is not None else "",
                 f"z {d.z:.1f}" if d.z is not None else "", f"p {d.p_value:.2g}" if d.p_value is not None else ""]
        text = head + "".join(f", {s}" for s in stats if s) + ")"
        if self.model_id and self.medium != "text":  # text carries no payload (a zero-bit mark)
            match = d.found and d.payload == payload_hex_of(self.model_id)
            text += f"; model {self.model_id}: {'matches' if match else 'does not match'}"
        if self.recipe:
            text += f"; recipe: {_recipe_summary(self.recipe)}"
        return text + "".join(f"; {n}" for n in self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "medium": self.medium, "found": self.found, "model_id": self.model_id,
                "detection": self.detection.to_dict(), "recipe": self.recipe, "notes": self.notes}


def payload_hex_of(model_id: str) -> str:
    from aigc.tools.provenance.payload import payload_hex

    return payload_hex(payload_bits(model_id))


def _recipe_summary(recipe: dict[str, Any]) -> str:
    keys = ("model_id", "task", "architecture", "seed")
    return ", ".join(f"{k} {recipe[k]}" for k in keys if k in recipe) or "present"


def _read_recipe(path: Path) -> dict[str, Any] | None:
    from aigc.core.artifacts import read_recipe

    try:
        return read_recipe(path)
    except BadInputError as exc:
        if "holds no aigc recipe" in str(exc):
            return None
        raise


def _image(path: Path, expected: np.ndarray | None) -> Detection:
    from PIL import Image

    from aigc.tools.provenance.image import detect_image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("L" if im.mode in ("L", "1", "P", "I;16", "I") else "RGB"))
    return _blind_then_expected(lambda e: detect_image(arr, expected=e), expected)


def _audio(path: Path, expected: np.ndarray | None) -> Detection:
    import soundfile as sf

    from aigc.tools.provenance.audio import detect_audio

    wave, sr = sf.read(str(path), dtype="float64", always_2d=False)
    return _blind_then_expected(lambda e: detect_audio(wave, sr, expected=e), expected)


def _midi(path: Path, expected: np.ndarray | None) -> Detection:
    import mido

    from aigc.tools.provenance.midi import detect_midi

    midi = mido.MidiFile(str(path))
    return _blind_then_expected(lambda e: detect_midi(midi, expected=e), expected)


def _video(path: Path, expected: np.ndarray | None) -> Detection:
    from aigc.tools.provenance.video import detect_video, read_frames

    frames = read_frames(str(path))
    return _blind_then_expected(lambda e: detect_video(frames, expected=e), expected)


def _frame_folder(path: Path, expected: np.ndarray | None) -> Detection:
    from aigc.data.video import read_video
    from aigc.tools.provenance.image import STEP
    from aigc.tools.provenance.video import detect_video

    frames = read_video(path).frames
    return _blind_then_expected(lambda e: detect_video(frames, expected=e, step=STEP), expected)


def _first_frame(folder: Path) -> Path:
    from aigc.data.video import FRAME_SUFFIXES

    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not frames:
        raise BadInputError(f"{folder}: a folder holds a video as frame images; this one has none")
    return frames[0]


def _blind_then_expected(detect: Any, expected: np.ndarray | None) -> Detection:
    """Blind decoding first; when it finds nothing and a payload is expected, test that payload
    (found by correlation, z > 4: the payload is the expected one even where some hard-decoded
    bits are wrong, which ``bit_accuracy`` tells)."""
    det = detect(None)
    if expected is None:
        return det
    direct = detect(expected)
    if det.found:
        det.z, det.p_value = direct.z, min(det.p_value or 1.0, direct.p_value or 1.0)
        return det
    if direct.found:
        from aigc.tools.provenance.payload import payload_hex

        direct.extra["decoded"] = direct.payload  # the hard decision, errors included
        direct.payload, direct.extra["found_by"] = payload_hex(expected), "correlation with the expected payload"
    return direct


def _text(path: Path, model: str | None, recipe: dict[str, Any] | None) -> tuple[Detection, list[str]]:
    from aigc.tools.provenance.text import detect_text

    if model is None and recipe and isinstance(recipe.get("replay"), dict):
        recorded = recipe["replay"].get("model")
        model = recorded if recorded and Path(recorded).is_dir() else None
    if model is None:
        raise BadInputError(f"{path}: text watermarks are detected with the model's tokenizer; "
                            "give --model DIR (the model directory that wrote it)")
    import aigc

    tokenizer = getattr(aigc.load(model, device="cpu"), "tokenizer", None)
    if tokenizer is None:
        raise BadInputError(f"{model}: this model has no tokenizer, so it cannot have written text")
    text = path.read_text(encoding="utf-8", errors="replace")
    return detect_text(text, tokenizer), [f"{len(text)} characters scored with the tokenizer of {model}"]


def verify(path: str | os.PathLike, model: str | os.PathLike | None = None) -> Verdict:
    """Recipe + watermark detection + payload decode for one file (or a folder of video frames)."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path}: file not found")
    folder = path.is_dir()
    if not folder and not path.is_file():
        raise BadInputError(f"{path}: not a file")
    recipe = _read_recipe(_first_frame(path) if folder else path)
    model_id = None
    if model is not None:
        from aigc.core.modeldir import model_id as dir_model_id
        from aigc.core.modeldir import read_config

        read_config(model)  # a clear error when it is not a model directory
        model_id = dir_model_id(model)
    elif recipe and recipe.get("model_id"):
        model_id = str(recipe["model_id"])
    expected = payload_bits(model_id) if model_id else None
    medium = "video" if folder else MEDIA.get(path.suffix.lower(), "text")
    notes: list[str] = []
    try:
        if medium == "text":
            det, notes = _text(path, None if model is None else str(model), recipe)
        elif folder:
            det = _frame_folder(path, expected)
            notes.append(f"votes of {det.extra.get('frames')} frames summed")
        else:
            det = {"image": _image, "audio": _audio, "midi": _midi, "video": _video}[medium](path, expected)
    except BadInputError:
        raise
    except Exception as exc:  # decoders raise many types for damaged files
        raise BadInputError(f"{path}: cannot read it as {medium} ({type(exc).__name__}: {exc})") from exc
    if recipe and recipe.get("watermark") is False:
        notes.append("the recipe says it was written with --no-watermark")
    return Verdict(str(path), medium, det, recipe, model_id, notes)
