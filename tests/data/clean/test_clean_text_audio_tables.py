"""Text, audio and table cleaning: planted defects with exact counts; MinHash against exact Jaccard."""

from __future__ import annotations

import hashlib
import unicodedata

import numpy as np
import pytest

from aigc.data.clean import clean
from aigc.data.clean.text import MinHasher, jaccard, shingles

pytest.importorskip("ftfy")

LINES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A completely different sentence about rain falling on the green hills.",
    "The quick brown fox jumps over the lazy dog near the river bank.",      # exact duplicate
    "The quick brown fox jumps over the lazy dog near the river banks.",     # near duplicate
    "Caf\u00c3\u00a9 au lait is served every morning in the old town square.",  # mojibake
    "Cafe\u0301 culture differs between northern and southern cities today.",  # NFD
    "short",
    "short",                                                                  # exact duplicate (short)
]


def _snapshot(root):
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_text_planted_duplicates_and_repairs(tmp_path):
    src = tmp_path / "corpus"
    src.mkdir()
    (src / "a.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    # a cp1252 file whose only paragraph repeats a.txt's second line (whitespace differs)
    (src / "b.txt").write_bytes("Na\u00efve text in cp1252.\n\nA completely  different sentence about rain "
                                "falling on the green hills.\n".encode("cp1252"))
    before = _snapshot(src)
    result = clean(src, tmp_path / "out")
    s = result["kinds"]["text"]
    assert s["scanned"] == 10 and s["kept"] == 6
    assert s["dropped"] == {"exact_duplicate": 3, "near_duplicate": 1}
    assert s["repaired"] == {"mojibake": 1, "nfc": 1, "decoded_cp1252": 1}
    out_a = (tmp_path / "out" / "a.txt").read_text(encoding="utf-8")
    assert "Caf\u00e9 au lait" in out_a and "Caf\u00e9 culture" in out_a  # repaired and NFC
    assert unicodedata.is_normalized("NFC", out_a)
    assert (tmp_path / "out" / "b.txt").read_text(encoding="utf-8") == "Na\u00efve text in cp1252.\n"
    assert _snapshot(src) == before


def test_minhash_estimates_jaccard():
    rng = np.random.default_rng(0)
    hasher = MinHasher(num_perm=256, seed=1)
    words = [f"w{i}" for i in range(400)]
    for keep in (0.9, 0.6, 0.3):
        a = " ".join(words[:200])
        b = " ".join(words[:int(200 * keep)] + list(rng.choice(words[200:], 200 - int(200 * keep), replace=False)))
        ga, gb = shingles(a), shingles(b)
        est = MinHasher.estimate(hasher.signature(ga), hasher.signature(gb))
        # the estimator's standard deviation is sqrt(J(1-J)/k) <= 0.032 for k = 256
        assert abs(est - jaccard(ga, gb)) < 0.1


def _write_wave(path, wave, sr):
    import soundfile as sf

    sf.write(str(path), wave.astype(np.float32), sr, subtype="PCM_16")


def test_audio_planted_defects(tmp_path):
    pytest.importorskip("soundfile")
    src = tmp_path / "clips"
    src.mkdir()
    t = np.arange(4000) / 8000
    for i in range(4):
        _write_wave(src / f"ok{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t), 8000)
    _write_wave(src / "silent.wav", 1e-5 * np.sin(2 * np.pi * 200 * t), 8000)
    _write_wave(src / "clipped.wav", np.clip(3 * np.sin(2 * np.pi * 200 * t), -1, 1), 8000)
    _write_wave(src / "rate.wav", 0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000), 16000)
    (src / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    before = _snapshot(src)
    s = clean(src, tmp_path / "out")["kinds"]["audio"]
    assert s["scanned"] == 8 and s["kept"] == 4
    assert s["dropped"] == {"corrupt": 1, "silent": 1, "clipped": 1, "wrong_rate": 1}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"ok{i}.wav" for i in range(4)]
    assert _snapshot(src) == before


def test_ratings_csv_planted_defects(tmp_path):
    pytest.importorskip("pandas")
    src = tmp_path / "ratings.csv"
    rows = ["user,item,rating,timestamp", "1,10,4,100", "1,11,5,101", "2,10,3.5,102", "2,12,,103",
            "3,10,five,104", "3,11,9,105", "1,10,2,106", "2,10,3.5,102", "4,13,1,107"]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = src.read_bytes()
    result = clean(src, tmp_path / "out")
    s = result["kinds"]["table ratings.csv"]
    assert s["scanned"] == 9 and s["kept"] == 4
    assert s["dropped"] == {"missing": 1, "type_error": 1, "out_of_range": 1, "duplicate": 2}
    kept = (tmp_path / "out" / "ratings.csv").read_text(encoding="utf-8").splitlines()
    assert kept == ["user,item,rating,timestamp", "1,10,4,100", "1,11,5,101", "2,10,3.5,102", "4,13,1,107"]
    assert src.read_bytes() == before
