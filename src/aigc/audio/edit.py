"""The audio editor: a chain of effects run block by block over a file in bounded memory.

An edit is a list of :class:`EffectSpec` applied in order. The file is read through soundfile in
blocks; each block goes through every effect's stream (state carried between blocks) and is
written out, so a one-hour file never sits in memory. Effects that need the whole signal first
(``normalize``: integrated loudness; ``trim_silence``: where the trailing silence starts;
``denoise``: the noise profile) get a measuring pass of their own, then the final pass applies
the rest. Passes = 1 + the number of such effects. Each measuring pass spills its stream to a
temporary float file (disk, not memory) where it stops, and the next pass starts there, so no
effect runs twice.

The output is written atomically (a temporary file renamed at the end), never over the input
unless asked, and carries its recipe (the chain) as JSON in its comment (WAV ``ICMT``, FLAC/OGG
Vorbis comment) in the layout of ``aigc.core.artifacts``, or in ``OUT.recipe.json`` for formats
without one.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aigc.audio import effects as fx
from aigc.core.atomic import atomic_path, atomic_write_json
from aigc.core.errors import BadInputError

__all__ = [
    "EFFECTS",
    "EffectSpec",
    "build_chain",
    "count_passes",
    "edit_file",
    "parse_effect",
    "probe",
    "read_recipe",
]

@dataclass(frozen=True)
class EffectSpec:
    """One step of an edit: the effect's name and its keyword parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"effect": self.name, **self.params}


def _numbers(flag: str, text: str, names: list[str], required: int, suffix: str = "") -> dict[str, float]:
    """``"1000:+3:1.0"`` -> ``{names[0]: 1000.0, ...}``; ``suffix`` (e.g. ``dB``) may follow a value."""
    parts = [p for p in str(text).split(":")] if str(text).strip() else []
    if not required <= len(parts) <= len(names):
        raise BadInputError(f"--{flag} {text!r}: expected {':'.join(names[:required]) or 'nothing'}"
                            f"{'[:' + ':'.join(names[required:]) + ']' if len(names) > required else ''}")
    out = {}
    for name, part in zip(names, parts):
        part = re.sub(f"(?i){suffix}$", "", part.strip()) if suffix else part.strip()
        try:
            value = float(part)
        except ValueError:
            raise BadInputError(f"--{flag} {text!r}: {name} {part!r} is not a number") from None
        if not math.isfinite(value):
            raise BadInputError(f"--{flag} {text!r}: {name} must be finite")
        out[name] = value
    return out


def _compress_params(text: str) -> dict[str, float]:
    names = ["threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db"]
    if "=" not in text:
        return _numbers("compress", text, names, 0)
    short = {"threshold": "threshold_db", "attack": "attack_ms", "release": "release_ms",
             "makeup": "makeup_db"}
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = short.get(key.strip(), key.strip())
        if key not in names:
            raise BadInputError(f"--compress {text!r}: unknown key {key!r}; use threshold, ratio, "
                                "attack, release, makeup")
        out.update(_numbers("compress", value, [key], 1, "dB|ms"))
    return out


def _order(params: dict[str, float]) -> dict[str, Any]:
    if "order" in params:
        params["order"] = int(params["order"])
    return params


def _denoise_params(text: str) -> dict[str, str]:
    method = text.strip().lower() or "wiener"
    if method not in ("wiener", "gate"):
        raise BadInputError(f"--denoise {text!r}: use wiener (default) or gate")
    return {"method": method}


# flag name -> how its value becomes parameters (each a lambda over the text given)
_PARSERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "gain": lambda t: _numbers("gain", t, ["db"], 1, "dB"),
    "highpass": lambda t: _order(_numbers("highpass", t, ["cutoff", "order"], 1, "Hz")),
    "lowpass": lambda t: _order(_numbers("lowpass", t, ["cutoff", "order"], 1, "Hz")),
    "eq": lambda t: _numbers("eq", t, ["freq", "gain_db", "q"], 2, "dB"),
    "compress": _compress_params,
    "reverb": lambda t: _numbers("reverb", t, ["amount", "rt60"], 1, "s"),
    "pitch": lambda t: _numbers("pitch", t, ["semitones"], 1),
    "speed": lambda t: _numbers("speed", t, ["factor"], 1, "x"),
    "denoise": _denoise_params,
    "normalize": lambda t: _numbers("normalize", t or "-16", ["target_lufs"], 1, "LUFS"),
    "trim_silence": lambda t: _numbers("trim-silence", t or "-50", ["threshold_db"], 1, "dB(FS)?"),
    "fade": lambda t: _numbers("fade", t, ["fade_in", "fade_out"], 1, "s"),
}


def _denoise_stream(ch: int, sr: int, p: dict, dt: type, noise: np.ndarray) -> fx.Stream:
    if p["method"] == "gate":
        return fx.SpectralGateStream(ch, sr, noise, dtype=dt)
    return fx.WienerStream(ch, sr, noise, dtype=dt)


def _denoise_analyzer(ch: int, sr: int, p: dict, dt: type) -> Any:
    return fx.NoiseProfile(ch, sr) if p["method"] == "gate" else fx.NoiseFloor(ch, sr, dtype=dt)


def _loudness_gain(ch: int, p: dict, measured: float) -> fx.Stream:
    return fx.GainStream(ch, p["target_lufs"] - measured if math.isfinite(measured) else 0.0)


@dataclass(frozen=True)
class Effect:
    """How an effect runs: ``stream(channels, sr, params, dtype[, measured])``; effects that need
    the whole signal also have ``analyzer(channels, sr, params, dtype)`` for a measuring pass."""

    stream: Callable[..., fx.Stream]
    analyzer: Callable[..., Any] | None = None


EFFECTS: dict[str, Effect] = {
    "gain": Effect(lambda ch, sr, p, dt: fx.GainStream(ch, **p)),
    "highpass": Effect(lambda ch, sr, p, dt: fx.SosStream(ch, fx.butter_sos(sr, kind="highpass", **p), dt)),
    "lowpass": Effect(lambda ch, sr, p, dt: fx.SosStream(ch, fx.butter_sos(sr, kind="lowpass", **p), dt)),
    "eq": Effect(lambda ch, sr, p, dt: fx.SosStream(ch, fx.rbj_biquad(
        "peaking", sr, p["freq"], p.get("q", 1.0), p["gain_db"]), dt)),
    "compress": Effect(lambda ch, sr, p, dt: fx.CompressorStream(ch, sr, **p, dtype=dt)),
    "reverb": Effect(lambda ch, sr, p, dt: fx.ReverbStream(ch, sr, **p, dtype=dt)),
    "pitch": Effect(lambda ch, sr, p, dt: fx.PitchTempoStream(ch, sr, p["semitones"], dtype=dt)),
    "speed": Effect(lambda ch, sr, p, dt: fx.PitchTempoStream(ch, sr, factor=p["factor"], dtype=dt)),
    "fade": Effect(lambda ch, sr, p, dt: fx.FadeStream(ch, sr, **p, dtype=dt)),
    "denoise": Effect(lambda ch, sr, p, dt, r: _denoise_stream(ch, sr, p, dt, r),
                      _denoise_analyzer),
    "normalize": Effect(lambda ch, sr, p, dt, r: _loudness_gain(ch, p, r),
                        lambda ch, sr, p, dt: fx.LoudnessMeter(ch, sr)),
    "trim_silence": Effect(lambda ch, sr, p, dt, r: fx.TrimStream(ch, *r),
                           lambda ch, sr, p, dt: fx.SilenceFinder(ch, p["threshold_db"])),
}


def parse_effect(name: str, text: str | None) -> EffectSpec:
    """``("eq", "1000:+3:1.0")`` -> ``EffectSpec("eq", {"freq": 1000.0, "gain_db": 3.0, "q": 1.0})``."""
    key = name.replace("-", "_")
    if key not in _PARSERS:
        raise BadInputError(f"unknown effect {name!r}; known: {', '.join(sorted(_PARSERS))}")
    return EffectSpec(key, _PARSERS[key]("" if text is None else str(text)))


def build_chain(chain: list[EffectSpec], sr: int, channels: int, measured: dict[int, Any] | None = None,
                dtype: type = np.float32) -> list[fx.Stream]:
    """Streams for ``chain`` computing in ``dtype``; an effect that needs a measurement gets
    ``measured[i]`` (checking parameters only, with a neutral stand-in, when that is not known
    yet). Neighbours that are one operation run as one stream (:func:`fx.fuse_streams`): gains
    and filters as one cascade of biquads, pitch and tempo changes as one stretch + resampling."""
    streams = []
    for i, spec in enumerate(chain):
        effect = EFFECTS[spec.name]
        try:
            if effect.analyzer is None:
                streams.append(effect.stream(channels, sr, dict(spec.params), dtype))
            elif measured is None or i not in measured:  # validate only
                effect.analyzer(channels, sr, dict(spec.params), dtype)
            else:
                streams.append(effect.stream(channels, sr, dict(spec.params), dtype, measured[i]))
        except BadInputError as exc:
            raise BadInputError(f"--{spec.name.replace('_', '-')}: {exc}") from None
    return fx.fuse_streams(streams)


def _open(path: Path):
    import soundfile as sf

    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise BadInputError(f"{path}: not a readable audio file ({exc}); give a WAV, FLAC or OGG "
                            "file") from None
    if handle.frames == 0:
        handle.close()
        raise BadInputError(f"{path}: holds no samples; give a file with audio in it")
    return handle


def probe(path: str | os.PathLike) -> tuple[int, int, int]:
    """``(frames, sample_rate, channels)`` of an audio file, or one clear error naming it."""
    with _open(Path(path)) as handle:
        return handle.frames, handle.samplerate, handle.channels


def count_passes(chain: list[EffectSpec]) -> int:
    """Reads of the input an edit takes: one, plus one per whole-signal effect."""
    return 1 + sum(EFFECTS[s.name].analyzer is not None for s in chain)


def _output_format(dst: Path, subtype: str) -> tuple[str, str]:
    import soundfile as sf

    fmt = dst.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise BadInputError(f"{dst}: unknown audio format {dst.suffix!r}; use .wav, .flac or .ogg")
    if not sf.check_format(fmt, subtype):
        subtype = sf.default_subtype(fmt)
    return fmt, subtype


class _Pass:
    """Reads of a file through ``streams`` into ``sink``, block by block; counts the blocks."""

    def __init__(self, block: int, progress: Callable[[int], None] | None, dtype: type = np.float32) -> None:
        self.block, self.progress, self.blocks, self.dtype = block, progress, 0, dtype

    def run(self, src: Path, streams: list[fx.Stream], sink: Callable[[np.ndarray], None]) -> None:
        with _open(src) as handle:
            for data in handle.blocks(blocksize=self.block, dtype=np.dtype(self.dtype).name, always_2d=True):
                self.blocks += 1
                n = len(data)
                for stream in streams:
                    data = stream.process(data) if len(data) else data
                sink(data)
                if self.progress:
                    self.progress(n)
        for i, stream in enumerate(streams):
            tail = stream.flush()
            for later in streams[i + 1:]:
                tail = later.process(tail) if len(tail) else tail
            sink(tail)


def _measure(runner: _Pass, src: Path, chain: list[EffectSpec], sr: int, channels: int,
             spill: Path) -> tuple[dict[int, Any], Path, int]:
    """The measuring passes. Each runs the effects after the previous measuring point up to the
    next whole-signal effect, feeds its analyser and spills the stream to a float file there, so
    the next pass starts from that file and no effect runs twice. Returns the measurements, the
    file the final pass reads and the index of the effect it starts at."""
    import soundfile as sf

    measured: dict[int, Any] = {}
    source, start = src, 0
    for i, spec in enumerate(chain):
        analyzer = EFFECTS[spec.name].analyzer
        if analyzer is None:
            continue
        probe = analyzer(channels, sr, dict(spec.params), runner.dtype)
        target = spill / f"stage{i}.w64"  # Sony Wave64: no 4 GB limit
        subtype = "DOUBLE" if runner.dtype == np.float64 else "FLOAT"
        with sf.SoundFile(str(target), "w", sr, channels, subtype, format="W64") as out:
            def sink(data: np.ndarray, probe: Any = probe, out: Any = out) -> None:
                if len(data):
                    probe.feed(data)
                    out.write(data)
            local = {j - start: v for j, v in measured.items() if j >= start}
            runner.run(source, build_chain(chain[start:i], sr, channels, local, runner.dtype), sink)
        measured[i] = probe.result()
        if source != src:
            source.unlink()
        source, start = target, i
    return measured, source, start


class _Writer:
    """Sink that clips to +-1 for integer formats (counting clipped samples) and writes."""

    def __init__(self, handle, clip: bool) -> None:
        self.handle, self.clip, self.clipped, self.frames = handle, clip, 0, 0

    def __call__(self, data: np.ndarray) -> None:
        if len(data) == 0:
            return
        if self.clip:
            over = np.abs(data) > 1.0
            if over.any():
                self.clipped += int(over.sum())
                data = np.clip(data, -1.0, 1.0)
        self.handle.write(data)
        self.frames += len(data)


def edit_file(src: str | os.PathLike, dst: str | os.PathLike, chain: list[EffectSpec], *,
              overwrite_input: bool = False, block: int = 65536,
              progress: Callable[[int], None] | None = None, precision: str = "float32") -> dict[str, Any]:
    """Apply ``chain`` to the audio file ``src`` and write ``dst`` (format from its extension,
    sample format kept where it can be). The effects compute in ``precision``: float32 (faster;
    each effect within about 2e-5 of full scale of its float64 result over a minute of 44.1 kHz
    stereo) or float64 (the reference functions' arithmetic). A phase vocoder after other effects
    turns such differences into other, equally valid phase tracks in quiet bins (float64 does the
    same for a -100 dBFS change of its input), so whole chains may differ more. Returns what happened: passes, blocks read, frames in and out, samples clipped,
    measurements of the whole-signal effects."""
    import soundfile as sf

    src, dst = Path(src), Path(dst)
    if not chain:
        raise BadInputError("no effect given; add at least one, e.g. --gain -3 (see --help)")
    with _open(src) as handle:
        sr, channels, frames, subtype = handle.samplerate, handle.channels, handle.frames, handle.subtype
    if dst.is_dir():
        raise BadInputError(f"{dst}: is a folder; give the output file's name, e.g. {dst / src.name}")
    if dst.exists() and dst.resolve() == src.resolve() and not overwrite_input:
        raise BadInputError(f"{dst}: is the input; pick another output or pass --overwrite-input")
    fmt, out_subtype = _output_format(dst, subtype)
    if precision not in ("float32", "float64"):
        raise BadInputError(f"--precision {precision!r}: use float32 or float64")
    build_chain(chain, sr, channels)  # every parameter checked before any work
    runner = _Pass(block, progress, np.dtype(precision).type)
    recipe = {"command": "audio edit", "source": src.name, "sample_rate": sr, "precision": precision,
              "effects": [s.as_dict() for s in chain]}
    with tempfile.TemporaryDirectory(prefix="aigc-edit-") as spill:
        measured, source, start = _measure(runner, src, chain, sr, channels, Path(spill))
        local = {j - start: v for j, v in measured.items() if j >= start}
        with atomic_path(dst) as tmp, sf.SoundFile(str(tmp), "w", sr, channels, out_subtype,
                                                   format=fmt) as out:
            sidecar = not _embed(out, recipe)
            writer = _Writer(out, clip=not out_subtype.startswith(("FLOAT", "DOUBLE", "VORBIS")))
            runner.run(source, build_chain(chain[start:], sr, channels, local, runner.dtype), writer)
    if sidecar:
        atomic_write_json(dst.with_name(dst.name + ".recipe.json"), json.loads(_recipe_text(recipe)))
    return {"passes": len(measured) + 1, "blocks": runner.blocks, "frames_in": frames,
            "frames_out": writer.frames, "sample_rate": sr, "channels": channels,
            "clipped": writer.clipped, "measured": {chain[i].name: _jsonable(v) for i, v in measured.items()},
            "recipe_sidecar": sidecar}


def _recipe_text(recipe: dict[str, Any]) -> str:
    """The recipe as ``aigc.core.artifacts`` writes it into a WAV comment (compact sorted JSON with
    the aigc version), so ``aigc info OUT`` and ``artifacts.read_recipe`` read it; written here
    because importing that module would load torch into a streaming audio tool."""
    from aigc import __version__

    return json.dumps({**recipe, "aigc_version": __version__}, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":"))


def _embed(handle, recipe: dict[str, Any]) -> bool:
    try:
        handle.comment = _recipe_text(recipe)
        return True
    except RuntimeError:
        return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return f"{value.size} values"
    if isinstance(value, tuple):
        return [int(v) for v in value]
    return float(value)


def read_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """The edit recipe of a file written by :func:`edit_file` ({} when it has none)."""
    import soundfile as sf

    path = Path(path)
    sidecar = path.with_name(path.name + ".recipe.json")
    if sidecar.is_file():
        return json.loads(sidecar.read_text())
    with sf.SoundFile(str(path)) as handle:
        text = handle.comment or ""
    return json.loads(text) if text.startswith("{") else {}
