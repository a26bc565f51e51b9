"""Every command line in the README runs as written (step and sample counts made tiny)."""

from __future__ import annotations

import io
import re
import shlex
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from aigc.cli import main
from aigc.core.paths import data_dir

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = [(r"--steps \d+", "--steps 2"), (r"--n \d+", "--n 8"), (r"--max-tokens \d+", "--max-tokens 5"),
        (r"--bars \d+", "--bars 1")]


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The command line"):text.index("## The library")]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = re.split(r"\s+#\s", line)[0].strip()
            if line.startswith("aigc "):
                lines.append(line)
    return lines


def _workspace(root: Path) -> None:
    """The files the README's commands read, made small."""
    from skimage import data

    rng = np.random.default_rng(0)
    (root / "photos").mkdir()
    for name in ("camera", "coins", "moon"):
        Image.fromarray(getattr(data, name)()[:96, :96]).save(root / "photos" / f"{name}.png")
    Image.fromarray(data.astronaut()[::8, ::8]).save(root / "photo.jpg")
    Image.fromarray(data.chelsea()[::8, ::8]).save(root / "content.jpg")
    Image.fromarray(data.coffee()[::8, ::8]).save(root / "starry.jpg")
    digit = np.zeros((16, 16), np.uint8)
    digit[3:13, 7:9] = 255
    Image.fromarray(digit).save(root / "digit.png")
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 255
    Image.fromarray(mask).save(root / "mask.png")
    words = "the quick brown fox jumps over the lazy dog while romeo speaks to juliet in verona ".split()
    (root / "input.txt").write_text(" ".join(rng.choice(words, 3000)))
    (root / "held_out.txt").write_text(" ".join(rng.choice(words, 300)))
    (root / "samples.txt").write_text("the fox jumps\nromeo speaks to juliet\n")
    (root / "refs.txt").write_text("the quick fox jumps\nromeo speaks to juliet\n")
    for folder in ("hr", "sr"):
        (root / folder).mkdir()
        Image.fromarray(data.camera()[:64, :64] if folder == "hr" else data.camera()[1:65, :64]).save(
            root / folder / "a.png")
    rows = ["user,item,rating"]
    for u in range(1, 60):
        items = set(rng.choice(np.arange(1, 80), size=15, replace=False).tolist()) | ({50} if u in (7, 42) else set())
        rows += [f"{u},{i},{int(rng.integers(1, 6))}" for i in sorted(items)]
    (root / "ratings.csv").write_text("\n".join(rows) + "\n")
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=90)
    inst = pretty_midi.Instrument(program=0)
    for k, pitch in enumerate([64, 64, 65, 67, 67, 65, 64, 62]):
        inst.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=k * 0.667, end=(k + 1) * 0.667))
    pm.instruments.append(inst)
    pm.write(str(root / "melody.mid"))


def _needs(line: str) -> str | None:
    """A dataset the line needs that is not staged here, or None."""
    for key, folder in (("mnist", "mnist"), ("jsb:", "jsb-chorales"), ("runs/ddpm", "mnist"),
                        ("runs/coconet", "jsb-chorales")):
        if key in line and not (data_dir(folder) / folder).exists():
            return folder
    return None


def test_readme_has_commands():
    lines = readme_commands()
    assert len(lines) >= 25 and any("--resume" in line for line in lines)


def test_every_readme_command_runs(tmp_path, monkeypatch, capsys):
    _workspace(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIGC_OFFLINE", "1")
    skipped = []
    for line in readme_commands():
        if (missing := _needs(line)) is not None:
            skipped.append((line, missing))
            continue
        for pattern, tiny in TINY:
            line = re.sub(pattern, tiny, line)
        if ("stylize" in line or "train-features" in line) and "--steps" not in line:
            line += " --steps 2"  # their defaults (300 optimisation steps, 1500 training steps) are minutes
        if "--resume" in line:
            line = line.replace("--steps 2", "--steps 4")  # two steps past the first run
        argv = shlex.split(line)[1:]
        monkeypatch.setattr(sys, "stdin", io.StringIO("Hello there\n"))
        try:
            code = main([*argv, "--no-progress"] if argv[0] == "train" else argv)
        except SystemExit as exc:
            code = exc.code
        assert code == 0, f"{line}: {capsys.readouterr().err}"
    assert len(skipped) < len(readme_commands()) / 2, skipped
