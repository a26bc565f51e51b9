"""DP-SGD on MNIST at delta = 1e-5: a classifier at several epsilons, and a DP class-conditional
generator at epsilon = 10 (``--gen-arch``: ``gauss``, a Gaussian per class in a PCA space whose
statistics are released once through the Gaussian mechanism; or DP-SGD on a VAE with encoder and
decoder private, or on the GAN with its discriminator private) judged by a CNN trained only on its
samples and tested on the real test set (``--gen-epsilons`` gives one row per budget); 10 of its
samples per class at the last budget go to ``--sheet``.

Anchors: Opacus README (MNIST): eps 1.19 -> 94.63 %, 3.01 -> 96.78 %, 7.10 -> 97.09 %; goal >= 97 %
at eps <= 3. DPDM (Dockhorn et al. 2022), downstream CNN accuracy at eps 10: DPDM 98.1 %,
DP-Sinkhorn 83.2 %, GS-WGAN 80 %, DP-CGAN 63 %; goal >= 90 %.

    python benchmarks/privacy.py --gen-steps 3000                    # the full run (~20 CPU-min per epsilon)
    python benchmarks/privacy.py --steps 5 --gen-steps 3 --epsilons 3 --n-fake 200 --out /tmp/p.json  # a check

The parts can run as separate processes (each row is independent) and be merged; cpu_s is then
the sum of the parts' process CPU time:

    python benchmarks/privacy.py --parts classifier --epsilons 3 --out /tmp/p3.json   # one per row ...
    python benchmarks/privacy.py --parts generator --gen-arch gauss --gen-epsilons 1,3,10 --out /tmp/pg.json
    python benchmarks/privacy.py --merge /tmp/p3.json /tmp/pg.json --out benchmarks/results/privacy.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine

ANCHORS = {"opacus_classifier": [{"epsilon": 1.19, "accuracy": 0.9463}, {"epsilon": 3.01, "accuracy": 0.9678},
                                 {"epsilon": 7.10, "accuracy": 0.9709}],
           "generator_eps10_downstream": {"DPDM": 0.981, "DP-Sinkhorn": 0.832, "GS-WGAN": 0.80, "DP-CGAN": 0.63}}


GEN_MODELS = {"gauss": {"latent_dim": 50},
              "vae": {"latent_dim": 16, "features": 64},
              "cgan": {"d_norm": "none", "g_features": 64, "d_features": 64, "latent_dim": 32}}
GEN_TRAIN = {"gauss": {"gen_batch_size": 64, "gen_lr": 2e-4, "gen_schedule": "constant"},  # one pass: unused
             "vae": {"gen_batch_size": 512, "gen_lr": 2e-3, "gen_schedule": "cosine"},
             "cgan": {"gen_batch_size": 128, "gen_lr": 2e-4, "gen_schedule": "constant"}}


def gen_model(args: argparse.Namespace) -> dict:
    return {**GEN_MODELS[args.gen_arch], **({"latent_dim": args.gen_latent_dim} if args.gen_latent_dim else {})}


def dp(eps: float, clip: float = 1.0) -> dict:
    return {"dp": {"epsilon": eps, "delta": 1e-5, "max_grad_norm": clip, "networks": None}}


def test_accuracy(model: Path, n: int | None = None) -> float:
    import aigc
    from aigc.classify.train import load_data

    pipe = aigc.load(str(model), device="cpu")
    test = load_data("mnist", split="test", image_size=28, channels=1)
    return pipe.evaluate(test.images[:n], test.labels[:n])["accuracy"]


def dp_classifier(out: Path, eps: float, args: argparse.Namespace) -> float:
    from aigc.classify.train import ClassifySettings, train
    from aigc.train import TrainConfig

    # the Opacus MNIST example's net: two conv layers, tanh; Adam; expected batch --batch-size (Poisson)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                      seed=args.seed, progress=False, checkpoint_every=args.steps, log_every=50,
                      extensions=dp(eps, args.clip))
    train(ClassifySettings(data="mnist", widths=(16, 32), hidden=32, activation="tanh", model={"kernel": 5}), cfg, out)
    return test_accuracy(out, args.n_test)


def privacy_spent(model: Path) -> dict:
    """What the model's config.json says was spent: epsilon and steps, and the noise multiplier and
    sample rate (DP-SGD) or the GDP mu (a one-pass Gaussian-mechanism fit)."""
    spent = (json.loads((model / "config.json").read_text()).get("extensions") or {}).get("dp") or {}
    return {k: spent[k] for k in ("epsilon", "noise_multiplier", "sample_rate", "steps", "mu") if k in spent}


def classifier_settings(args: argparse.Namespace) -> dict:
    return {"steps": args.steps, "batch_size": args.batch_size, "epochs": round(args.steps * args.batch_size / 60000, 2),
            "lr": args.lr, "schedule": args.schedule, "max_grad_norm": args.clip}


def dp_generator_downstream(out: Path, eps: float, args: argparse.Namespace, sheet: str = "") -> float:
    from aigc.classify.train import ClassifySettings, train
    from aigc.core.registry import resolve, task
    from aigc.train import TrainConfig

    t = task("image-gen")
    model = gen_model(args)
    settings = resolve(t.settings)(arch=args.gen_arch, data="mnist", image_size=32, cond=True, model=dict(model))
    cfg = TrainConfig(steps=args.gen_steps, batch_size=args.gen_batch_size, lr=args.gen_lr, seed=args.seed,
                      progress=False, schedule=args.gen_schedule, checkpoint_every=args.gen_steps, log_every=50,
                      extensions=dp(eps))
    resolve(t.train)(settings, cfg, out / "gen")
    import aigc
    from aigc.data.transforms import resize

    pipe = aigc.load(str(out / "gen"), device="cpu")
    labels = torch.arange(10).repeat_interleave(args.n_fake // 10)
    fake = resize(pipe.generate(len(labels), seed=args.seed, labels=labels), 28)
    if sheet:
        from aigc.core.artifacts import make_grid, save_png

        order = torch.cat([torch.nonzero(labels == c).flatten()[:10] for c in range(10)])
        save_png(sheet, make_grid(fake[order], nrow=10), pipe.recipe(seed=args.seed, n=len(labels)),
                 scale_to=448)
    folder = out / "fake"
    from PIL import Image

    for i, (img, y) in enumerate(zip(fake, labels)):
        (folder / str(int(y))).mkdir(parents=True, exist_ok=True)
        Image.fromarray((img[0].clamp(0, 1) * 255).round().byte().numpy()).save(folder / str(int(y)) / f"{i}.png")
    cls_cfg = TrainConfig(steps=args.judge_steps, batch_size=64, lr=1e-3, seed=args.seed, progress=False,
                          checkpoint_every=args.judge_steps)
    train(ClassifySettings(data=f"folder:{folder}", split="all", widths=(32, 64), hidden=128, activation="relu"),
          cls_cfg, out / "judge")
    return test_accuracy(out / "judge", args.n_test)


def generator_rows(part: dict) -> list[dict]:
    """A part's generator rows (older results kept one generator, at epsilon 10, under "generator")."""
    if part.get("generator_rows") is not None:
        return part["generator_rows"]
    if part.get("generator_eps10_downstream_accuracy") is None:
        return []
    return [{"epsilon": 10.0, "accuracy": part["generator_eps10_downstream_accuracy"], **(part.get("generator") or {})}]


def headline(rows: list[dict]) -> float | None:
    """The best downstream accuracy of a generator that spent at most epsilon 10."""
    within = [r["accuracy"] for r in rows if r["epsilon"] <= 10.0 + 1e-9]
    return max(within) if within else None


def merge(files: list[str], out: str) -> dict:
    """One result from the parts' JSON files: rows joined, CPU time summed, every command kept."""
    parts = [json.loads(Path(f).read_text()) for f in files]
    rows = sorted((r for p in parts for r in p["classifier_rows"]), key=lambda r: r["epsilon"])
    gen_rows = [r for p in parts for r in generator_rows(p)]
    at3 = [r["accuracy"] for r in rows if r["epsilon"] <= 3.0]
    result = {**parts[0], "classifier_eps3_accuracy": max(at3) if at3 else None, "classifier_rows": rows,
              "generator_rows": gen_rows, "generator_eps10_downstream_accuracy": headline(gen_rows),
              "cpu_s": sum(p["cpu_s"] for p in parts), "cpu_s_parts": [p["cpu_s"] for p in parts],
              "command": [c for p in parts for c in (p["command"] if isinstance(p["command"], list)
                                                     else [p["command"]])] + [command()]}
    result["steps"] = next((p["steps"] for p in parts if p.get("steps") is not None), None)
    result.pop("generator", None)
    result.pop("gen_steps", None)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epsilons", default="1.19,3,7.1", help="classifier privacy budgets")
    p.add_argument("--steps", type=int, default=3000, help="DP classifier steps (batch 512: 25.6 epochs)")
    p.add_argument("--batch-size", type=int, default=512, help="DP classifier expected batch (Poisson sampling)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--schedule", default="cosine", choices=("constant", "cosine"), help="DP classifier lr schedule")
    p.add_argument("--clip", type=float, default=1.0, help="DP classifier per-sample gradient norm bound")
    p.add_argument("--gen-arch", choices=sorted(GEN_MODELS), default="gauss",
                   help="the DP generator: a Gaussian per class in PCA space (one Gaussian-mechanism release), "
                        "or DP-SGD on the class-conditional VAE (both networks private) or GAN (its discriminator)")
    p.add_argument("--gen-epsilons", default="10", help="DP generator budgets, one row each")
    p.add_argument("--gen-steps", type=int, default=3000, help="DP-SGD generator steps (gauss: one pass)")
    p.add_argument("--gen-batch-size", type=int, default=None,
                   help="DP generator expected batch (Poisson; default 128 cgan, 512 vae)")
    p.add_argument("--gen-lr", type=float, default=None, help="default 2e-4 cgan, 2e-3 vae")
    p.add_argument("--gen-latent-dim", type=int, default=None, help="the generator's latent size (default: per arch)")
    p.add_argument("--gen-schedule", default=None, choices=("constant", "cosine"),
                   help="default constant cgan, cosine vae")
    p.add_argument("--sheet", default="benchmarks/results/privacy_generator.png",
                   help="10 samples per class of the DP generator ('' for none)")
    p.add_argument("--n-fake", type=int, default=10000, help="generated images for the downstream CNN")
    p.add_argument("--judge-steps", type=int, default=2000)
    p.add_argument("--n-test", type=int, default=None, help="test images scored (default all 10,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parts", default="classifier,generator", help="classifier, generator or both")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON", help="merge the parts' results into --out")
    p.add_argument("--out", default="benchmarks/results/privacy.json")
    args = p.parse_args(argv)
    for key, value in GEN_TRAIN[args.gen_arch].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.merge:
        result = merge(args.merge, args.out)
        print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "anchors")}, indent=2))
        return 0
    parts = set(args.parts.split(","))
    start = time.process_time()
    rows, gen_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for eps in [float(e) for e in args.epsilons.split(",")] if "classifier" in parts else []:
            model = Path(tmp) / f"cls-{eps}"
            rows.append({"epsilon": eps, "accuracy": dp_classifier(model, eps, args), **classifier_settings(args),
                         "spent": privacy_spent(model)})
            print(rows[-1], flush=True)
        gen_eps = [float(e) for e in args.gen_epsilons.split(",")] if "generator" in parts else []
        for i, eps in enumerate(gen_eps):
            cpu = time.process_time()
            folder = Path(tmp) / f"gen-{eps}"
            acc = dp_generator_downstream(folder, eps, args, args.sheet if i == len(gen_eps) - 1 else "")
            one_pass = args.gen_arch == "gauss"
            gen_rows.append({"epsilon": eps, "accuracy": acc, "arch": args.gen_arch, "model": gen_model(args),
                             **({} if one_pass else {"steps": args.gen_steps, "batch_size": args.gen_batch_size,
                                                     "lr": args.gen_lr, "schedule": args.gen_schedule}),
                             "n_fake": args.n_fake, "judge_steps": args.judge_steps,
                             "spent": privacy_spent(folder / "gen"), "cpu_s": round(time.process_time() - cpu, 1)})
            print(gen_rows[-1], flush=True)
    at3 = [r["accuracy"] for r in rows if r["epsilon"] <= 3.0]
    result = {"classifier_eps3_accuracy": max(at3) if at3 else None, "classifier_rows": rows,
              "generator_eps10_downstream_accuracy": headline(gen_rows), "generator_rows": gen_rows, "delta": 1e-5,
              "steps": args.steps if rows else None,
              "cpu_s": time.process_time() - start, "anchors": ANCHORS, "machine": machine(), "command": command()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "anchors")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
