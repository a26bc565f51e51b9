"""Generated artifacts carry their recipe, in the file's own metadata where the format has room.

| medium | where the recipe goes |
|---|---|
| PNG  | ``aigc:<key>`` tEXt chunks |
| WAV  | the LIST/INFO comment chunk (``ICMT``) |
| MIDI | a text meta event at time 0 of the first track |
| GIF  | the comment extension |
| MP4, WebM, MKV, MOV | the ``comment`` metadata tag |
| text | a sidecar ``<file>.json`` |
| JSON | the top-level key ``aigc_recipe`` |

The recipe is the model id (hash of config + weights), task, architecture, seed, every generation
parameter and the aigc version; when written by the ``aigc`` command line it also holds the command
(``replay``) so that ``aigc replay FILE --model DIR`` can regenerate the file and compare bytes.
Every writer is atomic; the same recipe and content give the same bytes.

A model's outputs can carry an invisible watermark whose payload is the model id's prefix (``aigc
verify FILE`` finds it): when the recipe has a ``model_id`` and ``"watermark": true`` (what every
command with ``--no-watermark`` puts there by default) or the writer is called with
``watermark=True``, the PNG, WAV, MIDI, GIF and MP4 writers (and, through
:func:`apply_watermark`, the video task's WebM/MKV/MOV writer) mark the content through
``WATERMARKERS`` and record ``"watermark": {scheme, payload, ...}`` in the recipe. Library calls
that say nothing write the content unchanged (exact pixels for restorations and round trips).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from aigc.core.atomic import atomic_path, atomic_write_bytes
from aigc.core.errors import BadInputError
from aigc.core.recipe import finish_recipe, recording, replay_info

__all__ = ["make_grid", "to_uint8", "save_png", "WATERMARKERS", "watermarker", "apply_watermark", "read_png_metadata", "save_wav", "save_midi", "save_gif",
           "save_mp4", "save_text", "save_json", "read_recipe", "read_ffmpeg_metadata", "recording", "replay_info", "finish_recipe",
           "RECIPE_KEY"]

RECIPE_KEY = "aigc_recipe"
_MIDI_PREFIX = "aigc-recipe:"

# medium -> "module:function"; resolved when first used, so core imports no tool at module level.
# Media hooks: (content, model_id) -> (marked content, what to record); "text" builds the green-list
# logits bias that aigc.text.sampling applies while sampling.
WATERMARKERS: dict[str, str] = {
    "image": "aigc.tools.provenance.image:embed",
    "audio": "aigc.tools.provenance.audio:embed",
    "midi": "aigc.tools.provenance.midi:embed",
    "video": "aigc.tools.provenance.video:embed",
    "text": "aigc.tools.provenance.text:GreenListBias",
}


def watermarker(medium: str) -> Any:
    """The watermark hook registered for ``medium``."""
    from aigc.core.registry import resolve

    return resolve(WATERMARKERS[medium])


def apply_watermark(medium: str, content: Any, recipe: Mapping[str, Any] | None,
                    watermark: bool | None = None) -> tuple[Any, Mapping[str, Any] | None]:
    """Mark ``content`` when the recipe names a model and asks for it (or ``watermark=True``);
    returns the content and the recipe with what was done under ``"watermark"``. For writers of
    formats this module does not write (WebM, MKV, MOV)."""
    if recipe is None or "model_id" not in recipe:
        return content, recipe
    wanted = recipe.get("watermark") is True if watermark is None else watermark
    if not wanted:
        return content, recipe
    marked, info = watermarker(medium)(content, str(recipe["model_id"]))
    if info is None:  # the hook found the content too small (or silent) to carry a payload
        info = {"scheme": "none", "reason": f"{medium} too small to carry a watermark"}
    return marked, {**recipe, "watermark": info}


def _dumps(recipe: Mapping[str, Any]) -> str:
    return json.dumps(recipe, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (H', W', C) uint8 array (C = 1 or 3)."""
    if images.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + padding) + padding, nrow * (w + padding) + padding)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y:y + h, x:x + w] = images[i].detach().float().cpu()
    return to_uint8(grid)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) uint8, rounding to nearest."""
    arr = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    return np.transpose(arr, (1, 2, 0))


def save_png(path: str | Path, array: np.ndarray, metadata: Mapping[str, Any] | None = None,
             *, scale_to: int | None = None, watermark: bool | None = None) -> Path:
    """Write an (H, W, C) uint8 array as PNG atomically; ``metadata`` goes into tEXt chunks.

    ``scale_to`` enlarges small images with nearest-neighbour so a grid of 8-px digits is visible.
    A model's output (``model_id`` in ``metadata``) is watermarked after scaling (module docstring).
    """
    arr = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
    img = Image.fromarray(arr)
    if scale_to and max(img.size) < scale_to:
        factor = -(-scale_to // max(img.size))  # round up
        img = img.resize((img.width * factor, img.height * factor), Image.NEAREST)
    pixels = np.asarray(img)
    marked, metadata = apply_watermark("image", pixels, metadata, watermark)
    if marked is not pixels:
        img = Image.fromarray(marked)
    info = PngImagePlugin.PngInfo()
    for key, value in finish_recipe(metadata, path).items():
        info.add_text(f"aigc:{key}", value if isinstance(value, str) else json.dumps(value))
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=info)
    return path


def read_png_metadata(path: str | Path) -> dict[str, Any]:
    """The ``aigc:*`` text chunks of a PNG, JSON-decoded where possible."""
    with Image.open(path) as img:
        text = dict(getattr(img, "text", {}))
    out: dict[str, Any] = {}
    for key, value in text.items():
        if key.startswith("aigc:"):
            try:
                out[key[5:]] = json.loads(value)
            except json.JSONDecodeError:
                out[key[5:]] = value
    return out


def _decode(text: str, source: Path) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{source}: its aigc recipe is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BadInputError(f"{source}: its aigc recipe is not a JSON object")
    return value


def save_wav(path: str | Path, wave: np.ndarray, sample_rate: int, recipe: Mapping[str, Any] | None = None,
             *, watermark: bool | None = None) -> Path:
    """Write (N,) or (N, channels) float audio in [-1, 1] as 16-bit PCM WAV, recipe in INFO/ICMT."""
    import soundfile as sf

    data = np.asarray(wave, dtype=np.float32)
    if data.ndim not in (1, 2) or not np.isfinite(data).all():
        raise BadInputError(f"{path}: audio must be a finite (N,) or (N, channels) array, got {data.shape}")
    data, recipe = apply_watermark("audio", (data, int(sample_rate)), recipe, watermark)
    data = data[0] if isinstance(data, tuple) else data
    path = Path(path)
    text = _dumps(finish_recipe(recipe, path))
    with atomic_path(path) as tmp:
        with sf.SoundFile(str(tmp), "w", samplerate=int(sample_rate), channels=1 if data.ndim == 1 else data.shape[1],
                          subtype="PCM_16", format="WAV") as fh:
            fh.comment = text
            fh.write(np.clip(data, -1.0, 1.0))
    return path


def save_midi(path: str | Path, midi: Any, recipe: Mapping[str, Any] | None = None,
              *, watermark: bool | None = None) -> Path:
    """Write a MIDI file (``bytes``, a ``mido.MidiFile`` or a ``pretty_midi.PrettyMIDI``) with the
    recipe as a text meta event at time 0 of the first track."""
    import mido

    if hasattr(midi, "write") and not isinstance(midi, mido.MidiFile):  # pretty_midi
        buf = io.BytesIO()
        midi.write(buf)
        midi = buf.getvalue()
    if isinstance(midi, (bytes, bytearray)):
        midi = mido.MidiFile(file=io.BytesIO(bytes(midi)))
    midi, recipe = apply_watermark("midi", midi, recipe, watermark)
    path = Path(path)
    track = midi.tracks[0]
    track[:] = [m for m in track if not (m.is_meta and m.type == "text" and m.text.startswith(_MIDI_PREFIX))]
    track.insert(0, mido.MetaMessage("text", text=_MIDI_PREFIX + _dumps(finish_recipe(recipe, path)), time=0))
    buf = io.BytesIO()
    midi.save(file=buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _frames_uint8(frames: Any) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or arr.shape[0] < 1:
        raise BadInputError(f"frames must be (T, H, W) or (T, H, W, 3), got {arr.shape}")
    return arr


def save_gif(path: str | Path, frames: Any, fps: float = 8.0, recipe: Mapping[str, Any] | None = None,
             *, scale: int = 1, watermark: bool | None = None) -> Path:
    """Write (T, H, W[, 3]) frames (uint8, or floats in [0, 1]) as a looping GIF, recipe in its
    comment. ``scale`` enlarges small frames (nearest neighbour) so they can be seen."""
    arr = _frames_uint8(frames)
    if scale > 1:
        arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)  # nearest neighbour
    arr, recipe = apply_watermark("video", arr, recipe, watermark)
    images = [Image.fromarray(f) for f in arr]
    path = Path(path)
    comment = _dumps(finish_recipe(recipe, path)).encode("ascii")
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0,
                       duration=max(20, int(round(1000 / fps))), comment=comment, optimize=False)
    return path


def save_mp4(path: str | Path, frames: Any, fps: float = 8.0, recipe: Mapping[str, Any] | None = None,
             *, scale: int = 1, watermark: bool | None = None) -> Path:
    """Write frames as H.264 MP4 (bit-exact flags, one thread: same frames give the same bytes),
    recipe in the ``comment`` tag."""
    import imageio_ffmpeg

    arr = _frames_uint8(frames)
    if arr.ndim == 3:
        arr = np.repeat(arr[..., None], 3, axis=3)
    if scale > 1:
        arr = arr.repeat(scale, axis=1).repeat(scale, axis=2)
    arr, recipe = apply_watermark("video", arr, recipe, watermark)
    h, w = arr.shape[1:3]
    pad_h, pad_w = (-h) % 2, (-w) % 2  # yuv420p needs even sizes
    arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    comment = _dumps(finish_recipe(recipe, path))
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (arr.shape[2], arr.shape[1]), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
            macro_block_size=1, ffmpeg_log_level="error", output_params=[
                "-f", "mp4", "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                "-map_metadata", "-1", "-metadata", f"comment={comment}"])
        writer.send(None)
        for frame in arr:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
    return path


def save_text(path: str | Path, text: str, recipe: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write UTF-8 ``text`` and its recipe in the sidecar ``<path>.json``; returns both paths."""
    path = Path(path)
    sidecar = Path(str(path) + ".json")
    atomic_write_bytes(path, text.encode("utf-8"))
    atomic_write_bytes(sidecar, (json.dumps(finish_recipe(recipe, path), indent=2, sort_keys=True) + "\n").encode())
    return path, sidecar


def save_json(path: str | Path, obj: Mapping[str, Any], recipe: Mapping[str, Any] | None = None) -> Path:
    """Write a JSON object with the recipe under the top-level key ``aigc_recipe``."""
    path = Path(path)
    body = {**dict(obj), RECIPE_KEY: finish_recipe(recipe, path)}
    atomic_write_bytes(path, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The recipe stored in (or beside) a file aigc wrote, whatever its medium."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    suffix = path.suffix.lower()
    try:
        recipe = _READERS.get(suffix, _read_sidecar)(path)
    except BadInputError:
        raise
    except Exception as exc:  # decoders raise many types for damaged files
        raise BadInputError(f"{path}: cannot read its metadata ({type(exc).__name__}: {exc})") from exc
    if not recipe:
        raise BadInputError(f"{path}: holds no aigc recipe (was it written by aigc?)")
    return recipe


def _read_png(path: Path) -> dict[str, Any]:
    return read_png_metadata(path)


def _read_wav(path: Path) -> dict[str, Any]:
    import soundfile as sf

    with sf.SoundFile(str(path)) as fh:
        comment = fh.comment
    return _decode(comment, path) if comment.startswith("{") else {}


def _read_midi(path: Path) -> dict[str, Any]:
    import mido

    for msg in mido.MidiFile(str(path)).tracks[0]:
        if msg.is_meta and msg.type == "text" and msg.text.startswith(_MIDI_PREFIX):
            return _decode(msg.text[len(_MIDI_PREFIX):], path)
    return {}


def _read_gif(path: Path) -> dict[str, Any]:
    with Image.open(path) as img:
        comment = img.info.get("comment", b"")
    text = comment.decode("ascii", "replace") if isinstance(comment, bytes) else str(comment)
    return _decode(text, path) if text.startswith("{") else {}


def _read_mp4(path: Path) -> dict[str, Any]:
    comment = read_ffmpeg_metadata(path).get("comment", "")
    return _decode(comment, path) if comment.startswith("{") else {}


def read_ffmpeg_metadata(path: str | Path) -> dict[str, str]:
    """The container's global tags (e.g. ``comment``) as ffmpeg's ``ffmetadata`` muxer prints them."""
    import subprocess

    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                          capture_output=True, timeout=60, check=False)
    if proc.returncode:
        return {}
    out: dict[str, str] = {}
    key, value = None, []
    text = proc.stdout.decode("utf-8", "replace")
    for line in text.split("\n")[1:]:  # first line: ";FFMETADATA1"
        if key is None:
            if not line or line.startswith((";", "#", "[")) or "=" not in line:
                continue
            key, _, rest = line.partition("=")
            value = [rest]
        else:
            value.append("\n" + line)
        joined = "".join(value)
        if joined.endswith("\\") and not joined.endswith("\\\\"):
            continue  # an escaped newline: the value goes on
        out[key.lower()] = _unescape(joined)
        key, value = None, []
    return out


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _read_json(path: Path) -> dict[str, Any]:
    body = _decode(path.read_text(encoding="utf-8"), path)
    if RECIPE_KEY in body:
        return body[RECIPE_KEY]
    if "model_id" in body and "aigc_version" in body:  # a sidecar itself
        return body
    return _read_sidecar(path)


def _read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = Path(str(path) + ".json")
    if not sidecar.is_file():
        return {}
    return _decode(sidecar.read_text(encoding="utf-8"), sidecar)


_READERS = {".png": _read_png, ".wav": _read_wav, ".mid": _read_midi, ".midi": _read_midi, ".gif": _read_gif,
            ".mp4": _read_mp4, ".webm": _read_mp4, ".mkv": _read_mp4, ".mov": _read_mp4, ".json": _read_json}
