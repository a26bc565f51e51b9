"""Watermark robustness and cost for images, audio, text and video; writes ``benchmarks/results/watermark.json``.

Images: skimage's natural photos and MNIST digit grids at 256 px, payload bit accuracy and blind
detection after JPEG q=75/50, resize x0.5, a 10 % crop (5 % off each side), Gaussian noise
sigma=0.02 and a screenshot-like rescale (x1.37 bilinear, then PNG); cost as PSNR/SSIM. The
``invisible-watermark`` DWT-DCT (Stable Diffusion's) is run on the same photos and attacks when
it is installed. False positives: the full blind detector (crop search included) on 1000 real
MNIST test digits. Audio: FSDD clips; OGG/Vorbis and MP3 (ffmpeg from imageio-ffmpeg) re-encoding,
resampling to 16 and 44.1 kHz, white noise at 20 dB SNR; cost as SNR; false positives on FSDD
clips. Text: a byte-level BPE GPT (1024 tokens, ~2.4 characters each: the paper's setting, subword
tokens) and a char GPT trained here on tinyshakespeare; 40 samples of 200 tokens with and without
the green list; z of every sample after 10/20/30 % random token substitution (3 random edits each) and a
paraphrase-like reordering (the text cut in 4 pieces, shuffled): mean, minimum, share above 4;
the perplexity cost under the unbiased model; false positives on 1000 real 200-token passages.
Video: GIF, MP4, WebM and PNG-frame-folder outputs of 64 px clips, blind and through aigc verify.

    python benchmarks/watermark.py                                   # full run (~10 CPU minutes)
    python benchmarks/watermark.py --quick --out /tmp/watermark.json # a small check
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine

from aigc.core.atomic import atomic_write_json
from aigc.core.paths import data_dir
from aigc.tools.provenance.payload import payload_bits

BITS = payload_bits("3fa2b19c0d1e2f3a")
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "immunohistochemistry")


def _jpeg(a, q):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(buf))


def _resize(a, f, how=Image.BICUBIC):
    im = Image.fromarray(a)
    return np.asarray(im.resize((round(im.width * f), round(im.height * f)), how))


def _noise(a, rng):
    return np.clip(np.round(a + rng.normal(0, 0.02 * 255, a.shape)), 0, 255).astype(np.uint8)


def image_attacks(rng):
    return {"clean": lambda a: a, "jpeg75": lambda a: _jpeg(a, 75), "jpeg50": lambda a: _jpeg(a, 50),
            "resize0.5": lambda a: _resize(a, 0.5),
            "crop10": lambda a: a[a.shape[0] // 20: a.shape[0] - a.shape[0] // 20, a.shape[1] // 20: a.shape[1] - a.shape[1] // 20],
            "noise0.02": lambda a: _noise(a, rng), "screenshot": lambda a: _resize(a, 1.37, Image.BILINEAR)}


def _images(n_grids: int):
    from skimage import data

    from aigc.data.idx import read_idx

    out = [np.asarray(Image.fromarray(getattr(data, n)()).resize((256, 256), Image.BICUBIC)) for n in PHOTOS]
    digits = read_idx(data_dir("mnist") / "mnist" / "t10k-images-idx3-ubyte.gz")
    for g in range(n_grids):
        tiles = digits[g * 16:(g + 1) * 16].reshape(4, 4, 28, 28).transpose(0, 2, 1, 3).reshape(112, 112)
        out.append(np.asarray(Image.fromarray(tiles).resize((256, 256), Image.NEAREST)))
    return out, digits


def bench_images(quick: bool) -> tuple[list, dict]:
    from skimage.metrics import structural_similarity

    from aigc.tools.provenance.image import detect_image, embed_image

    images, digits = _images(2 if quick else 8)
    rng = np.random.default_rng(0)
    rows, psnr, ssim = [], [], []
    marked = []
    for img in images:
        m = embed_image(img, BITS)
        marked.append(m)
        psnr.append(10 * np.log10(255 ** 2 / np.mean((m.astype(float) - img) ** 2)))
        ssim.append(structural_similarity(img, m, channel_axis=2 if img.ndim == 3 else None, data_range=255))
    for name, attack in image_attacks(rng).items():
        acc, found = [], []
        for m in marked:
            seen = attack(m)
            acc.append(detect_image(seen, expected=BITS).bit_accuracy)
            found.append(detect_image(seen).found)
        rows.append({"medium": "image", "scheme": "aigc-dct-qim", "transform": name, "bit_accuracy": float(np.mean(acc)),
                     "detection_rate": float(np.mean(found)), "n": len(marked)})
    rows += _invisible_watermark_rows(images[:len(PHOTOS)], rng)
    n_fp = 200 if quick else 1000
    fp = sum(detect_image(d).found for d in digits[-n_fp:]) / n_fp
    return rows, {"image_psnr": float(np.mean(psnr)), "image_psnr_min": float(np.min(psnr)),
                  "image_ssim": float(np.mean(ssim)), "image_false_positive_rate": fp, "image_fp_n": n_fp}


def _invisible_watermark_rows(photos, rng) -> list:
    try:
        from imwatermark import WatermarkDecoder, WatermarkEncoder
    except ImportError:
        return [{"medium": "image", "scheme": "invisible-watermark dwtDct", "skipped": "not installed"}]
    enc = WatermarkEncoder()
    enc.set_watermark("bits", BITS.tolist())
    dec = WatermarkDecoder("bits", 32)
    rows, psnr = [], []
    marked = []
    for img in photos:
        rgb = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
        m = enc.encode(rgb[..., ::-1].copy(), "dwtDct")[..., ::-1]
        marked.append(np.ascontiguousarray(m))
        psnr.append(10 * np.log10(255 ** 2 / np.mean((m.astype(float) - rgb) ** 2)))
    for name, attack in image_attacks(rng).items():
        acc, refused = [], 0
        for m in marked:
            try:
                bits = dec.decode(np.ascontiguousarray(attack(m)[..., ::-1]), "dwtDct")
            except RuntimeError:  # it refuses images under 256 x 256: no payload, chance accuracy
                refused += 1
                acc.append(0.5)
                continue
            acc.append(float(np.mean(np.array(bits, int) == BITS)))
        rows.append({"medium": "image", "scheme": "invisible-watermark dwtDct", "transform": name,
                     "bit_accuracy": float(np.mean(acc)), "refused": refused, "psnr": float(np.mean(psnr)),
                     "n": len(marked)})
    return rows


def _ffmpeg_roundtrip(x, sr, codec_args, suffix):
    import subprocess

    import imageio_ffmpeg
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        src, mid, back = Path(tmp) / "a.wav", Path(tmp) / f"b{suffix}", Path(tmp) / "c.wav"
        sf.write(src, x, sr, subtype="PCM_16")
        exe = imageio_ffmpeg.get_ffmpeg_exe()
        for args in ([exe, "-v", "error", "-y", "-i", str(src), *codec_args, str(mid)],
                     [exe, "-v", "error", "-y", "-i", str(mid), "-ar", str(sr), str(back)]):
            subprocess.run(args, check=True, capture_output=True, timeout=60)
        y, _ = sf.read(back)
    return y[:len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


def audio_attacks(rng):
    import soundfile as sf
    from scipy.signal import resample_poly

    def ogg(x, sr):
        buf = io.BytesIO()
        sf.write(buf, x, sr, format="OGG", subtype="VORBIS")
        buf.seek(0)
        return sf.read(buf)[0][:len(x)], sr

    def noise(x, sr):
        return x + rng.normal(0, np.sqrt(np.mean(x ** 2)) / 10, x.shape), sr

    return {"clean": lambda x, sr: (x, sr), "ogg": ogg,
            "mp3": lambda x, sr: (_ffmpeg_roundtrip(x, sr, ["-c:a", "libmp3lame", "-b:a", "64k"], ".mp3"), sr),
            "resample16k": lambda x, sr: (resample_poly(x, 2, 1), sr * 2),
            "resample44.1k": lambda x, sr: (resample_poly(x, 441, 80), 44100), "noise20dB": noise}


def bench_audio(quick: bool) -> tuple[list, dict]:
    import soundfile as sf

    from aigc.tools.provenance.audio import detect_audio, embed_audio

    files = sorted((data_dir("fsdd") / "fsdd" / "recordings").glob("*.wav"))
    if not files:
        return [{"medium": "audio", "skipped": "FSDD not found"}], {}
    clips = [sf.read(str(f)) for f in files[:20 if quick else 100]]
    marked, snr = [], []
    for x, sr in clips:
        m = embed_audio(x, sr, BITS).astype(np.float64)
        marked.append((m, sr))
        snr.append(10 * np.log10(np.sum(x ** 2) / np.sum((m - x) ** 2)))
    rows = []
    for name, attack in audio_attacks(np.random.default_rng(0)).items():
        acc, found = [], []
        for m, sr in marked:
            try:
                y, r = attack(m, sr)
            except Exception as exc:  # noqa: BLE001 - a codec missing from this ffmpeg build
                rows.append({"medium": "audio", "transform": name, "skipped": f"{type(exc).__name__}: {exc}"})
                break
            acc.append(detect_audio(y, r, expected=BITS).bit_accuracy)
            found.append(detect_audio(y, r).found)
        else:
            rows.append({"medium": "audio", "scheme": "aigc-dct-qim-audio", "transform": name,
                         "bit_accuracy": float(np.mean(acc)), "detection_rate": float(np.mean(found)), "n": len(acc)})
    n_fp = 200 if quick else 1000
    fp = sum(detect_audio(*sf.read(str(f))).found for f in files[-n_fp:]) / n_fp
    return rows, {"audio_snr_db": float(np.mean(snr)), "audio_snr_db_min": float(np.min(snr)),
                  "audio_false_positive_rate": fp, "audio_fp_n": n_fp}


TEXT_MODELS = {  # tokenizer -> model flags; BPE is the paper's setting (subword tokens)
    "bpe": ["--tokenizer", "bpe", "--vocab-size", "1024", "--context", "128"],
    "char": ["--tokenizer", "char", "--context", "256"],
}


def _train_text(kind: str, steps: int, folder: Path) -> Path:
    from aigc.cli import main

    out = folder / f"{kind}-gpt"
    data = data_dir("tinyshakespeare") / "tinyshakespeare" / "input.txt"
    assert main(["train", "text", "--data", str(data), *TEXT_MODELS[kind], "--layers", "3", "--heads", "4",
                 "--embed", "128", "--steps", str(steps), "--batch-size", "16", "--out", str(out),
                 "--no-progress"]) == 0
    return out


def _edit(ids, share, rng, vocab):
    ids = list(ids)
    for i in rng.choice(len(ids), round(share * len(ids)), replace=False):
        ids[i] = int(rng.integers(0, vocab))
    return ids


def _reorder(ids, rng):
    parts = np.array_split(np.array(ids), 4)
    return [int(t) for k in rng.permutation(4) for t in parts[k]]


def _perplexity(net, context: int, prompts: list, samples: list) -> float:
    """exp(mean NLL) of the sampled tokens under the unbiased model, each token scored with the
    window of at most ``context`` tokens that the sampler saw."""
    import torch

    nll = []
    with torch.no_grad():
        for prompt, ids in zip(prompts, samples):
            row = prompt + ids
            head = min(len(row), context + 1)  # targets inside the first window: one forward
            lp = net(torch.tensor([row[:head - 1]]))[0].log_softmax(-1)
            nll += [-float(lp[j - 1, row[j]]) for j in range(len(prompt), head)]
            for j in range(max(head, len(prompt)), len(row)):  # past it the window slides
                logits = net(torch.tensor([row[j - context:j]]), last_only=True)[0, -1]
                nll.append(-float(logits.log_softmax(-1)[row[j]]))
    return math.exp(float(np.mean(nll)))


def _text_rows(kind: str, samples: list, vocab: int, draws: int) -> list:
    from aigc.tools.provenance.text import detect_tokens

    rng = np.random.default_rng(0)
    transforms = {"none": lambda ids: ids, "sub10": lambda ids: _edit(ids, 0.1, rng, vocab),
                  "sub20": lambda ids: _edit(ids, 0.2, rng, vocab), "sub30": lambda ids: _edit(ids, 0.3, rng, vocab),
                  "reorder4": lambda ids: _reorder(ids, rng)}
    rows = []
    for name, fn in transforms.items():
        reps = 1 if name == "none" else draws
        zs = np.array([detect_tokens(fn(ids)).z for ids in samples for _ in range(reps)])
        rows.append({"medium": "text", "tokenizer": kind, "scheme": "kirchenbauer gamma=0.25 delta=2 h=1",
                     "transform": name, "z_mean": float(zs.mean()), "z_min": float(zs.min()),
                     "z_p10": float(np.percentile(zs, 10)), "detection_rate": float(np.mean(zs > 4)),
                     "tokens": 200, "samples": len(samples), "n": len(zs)})
    return rows


def bench_text_model(kind: str, quick: bool, steps: int) -> tuple[list, dict]:
    """One text model: 200-token samples with and without the green list, z after each edit (every
    sample, ``draws`` random edits each), the perplexity cost, false positives on real passages."""
    import aigc
    from aigc.tools.provenance.text import detect_tokens

    text = (data_dir("tinyshakespeare") / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        pipe = aigc.load(_train_text(kind, steps, Path(tmp)), device="cpu")
    tok, net = pipe.tokenizer, pipe.nets["model"]
    net.eval()
    prompt_text = [text[i * 5000: i * 5000 + 40] for i in range(5 if quick else 40)]
    samples = {}
    for wm in (True, False):
        outs = pipe.generate(prompt_text, max_tokens=200, temperature=1.0, seed=0, watermark=wm)
        samples[wm] = [tok.encode(o)[:200] for o in outs]  # re-tokenised, as a detector sees the text
    rows = _text_rows(kind, samples[True], tok.vocab_size, 1 if quick else 3)
    sub20 = next(r for r in rows if r["transform"] == "sub20")
    plain_z = [detect_tokens(ids).z for ids in samples[False]]
    prompts = [tok.encode(p) for p in prompt_text]
    ppl = {wm: _perplexity(net, pipe.context, prompts, samples[wm]) for wm in (True, False)}
    ids = np.array(tok.encode(text))
    n_fp = 200 if quick else 1000
    stride = (len(ids) - 200) // n_fp
    real_z = np.array([detect_tokens(ids[i * stride: i * stride + 200]).z for i in range(n_fp)])
    return rows, {"sub20_z": sub20["z_mean"], "sub20_detection_rate": sub20["detection_rate"],
                  "sub20_z_min": sub20["z_min"], "sub20_n": sub20["n"],
                  "z_unwatermarked_mean": float(np.mean(plain_z)), "perplexity_watermarked": ppl[True],
                  "perplexity_plain": ppl[False], "perplexity_increase": ppl[True] / ppl[False] - 1,
                  "false_positive_rate": float(np.mean(real_z > 4)), "fp_n": n_fp,
                  "real_z_mean": float(real_z.mean()), "real_z_std": float(real_z.std()),
                  "real_z_max": float(real_z.max()), "model_steps": steps, "vocab_size": tok.vocab_size}


def bench_text(quick: bool, steps: int) -> tuple[list, dict]:
    """The BPE model (headline keys ``text_*``) and the character model (``text_char_*``)."""
    rows, out = [], {"text_tokenizer": "bpe"}
    for kind, prefix in (("bpe", "text_"), ("char", "text_char_")):
        r, m = bench_text_model(kind, quick, steps)
        rows += r
        out.update({prefix + k: v for k, v in m.items()})
    return rows, out


def bench_video(quick: bool) -> tuple[list, dict]:
    """Every video output the video task writes (GIF, MP4, WebM, a folder of PNG frames): blind
    decoding and ``aigc verify`` (which also tests the recipe's payload) on 64 px moving-box clips."""
    import torch

    from aigc.data.video import read_video
    from aigc.tools.provenance.image import STEP
    from aigc.tools.provenance.verify import verify
    from aigc.tools.provenance.video import detect_video, read_frames
    from aigc.video.artifacts import save_video

    rng = np.random.default_rng(0)
    clips = []
    for _ in range(2 if quick else 8):
        clip = np.zeros((10, 1, 64, 64), np.float32)
        boxes = [(rng.uniform(0.4, 1, (20, 14)), rng.integers(0, 30, 2), rng.integers(-3, 4, 2)) for _ in range(2)]
        for t in range(10):
            for box, (y, x), (vy, vx) in boxes:
                yy, xx = (y + vy * t) % 44, (x + vx * t) % 50
                clip[t, 0, yy:yy + 20, xx:xx + 14] = box
        clips.append(torch.from_numpy(clip))
    model_id = "3fa2b19c0d1e2f3a"  # BITS
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".gif", ".mp4", ".webm", ""):
            blind, found, acc = [], [], []
            for i, clip in enumerate(clips):
                out = save_video(Path(tmp) / f"c{i}{suffix}", clip, {"model_id": model_id, "watermark": True}, fps=8)
                # a folder's PNG frames each carry the image mark (its step); votes summed over frames
                frames, kw = (read_frames(str(out)), {}) if suffix else (read_video(out).frames, {"step": STEP})
                acc.append(detect_video(frames, expected=BITS, **kw).bit_accuracy)
                blind.append(detect_video(frames, **kw).found)
                found.append(verify(out).found)
            rows.append({"medium": "video", "scheme": "aigc-dct-qim per frame", "transform": suffix or "png-frames",
                         "bit_accuracy": float(np.mean(acc)), "blind_detection_rate": float(np.mean(blind)),
                         "verify_detection_rate": float(np.mean(found)), "n": len(clips)})
    return rows, {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer images, clips and samples, a short text model")
    ap.add_argument("--text-steps", type=int, default=None,
                    help="training steps of the BPE and the char GPT (default 1500)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "watermark.json"))
    args = ap.parse_args()
    t0 = time.process_time()
    image_rows, image = bench_images(args.quick)
    audio_rows, audio = bench_audio(args.quick)
    text_rows, text = bench_text(args.quick, args.text_steps or (60 if args.quick else 1500))
    video_rows, _ = bench_video(args.quick)
    rows = image_rows + audio_rows + text_rows + video_rows

    def pick(medium, transform, key="bit_accuracy", scheme="aigc"):
        for r in rows:
            if r.get("medium") == medium and r.get("transform") == transform and r.get("scheme", "").startswith(scheme):
                return r.get(key)
        return None

    fps = [v for k, v in {**image, **audio, **text}.items() if k.endswith("false_positive_rate")]
    result = {"image_jpeg50_bit_accuracy": pick("image", "jpeg50"),
              "image_resize0.5_bit_accuracy": pick("image", "resize0.5"), "image_psnr": image.get("image_psnr"),
              "text_sub20_z": text.get("text_sub20_z"), "audio_ogg_bit_accuracy": pick("audio", "ogg"),
              "false_positive_rate": max(fps) if fps else None, **image, **audio, **text, "rows": rows,
              "cpu_seconds": time.process_time() - t0, "quick": args.quick, "machine": machine(), "command": command()}
    atomic_write_json(args.out, result)
    print({k: v for k, v in result.items() if k not in ("rows", "machine")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
