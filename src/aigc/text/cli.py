"""``aigc train text``, ``aigc generate DIR`` for text models, and ``aigc chat DIR``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aigc.core.cli_args import add_device_arg, add_seed_arg, bounded_int, positive_int
from aigc.core.registry import task_architectures

__all__ = ["add_train_args", "generate_parser", "add_chat", "run_chat"]

TASK = "text"


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The task's own flags for ``aigc train text``."""
    p.add_argument("--arch", choices=sorted(task_architectures(TASK)), default="gpt", help="architecture")
    p.add_argument("--data", required=True,
                   help="a UTF-8 text file, a folder of them, a .jsonl dialogue file "
                        "({\"turns\": [{\"role\": ..., \"content\": ...}]} per line), or 'builtin:pydoc'")
    p.add_argument("--tokenizer", choices=["char", "bpe"], default="char", help="character or byte-level BPE")
    p.add_argument("--vocab-size", type=bounded_int(2, 1_000_000), default=2048, help="BPE vocabulary size")
    p.add_argument("--errors", choices=["strict", "replace"], default="strict",
                   help="invalid UTF-8: stop with an error naming file and byte offset, or replace")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out tail of the token stream")
    g = p.add_argument_group("model (default: the architecture's; taken from --init-from when given)")
    g.add_argument("--context", type=bounded_int(1, 1 << 16), default=None, help="tokens of context (default 256)")
    g.add_argument("--layers", type=bounded_int(1, 256), default=None)
    g.add_argument("--heads", type=bounded_int(1, 256), default=None, help="attention heads (gpt)")
    g.add_argument("--embed", type=bounded_int(1, 1 << 15), default=None, help="embedding / hidden width")
    g.add_argument("--dropout", type=float, default=None)
    g.add_argument("--weight-decay", type=float, default=None, help="AdamW decay on weight matrices")
    f = p.add_argument_group("fine-tuning")
    f.add_argument("--init-from", metavar="DIR", help="continue training this text model on --data")
    f.add_argument("--freeze-layers", type=int, default=0, metavar="K",
                   help="freeze the embeddings and the first K layers")
    p.set_defaults(steps=2000, batch_size=32, lr=1e-3)


def _add_sampling_args(p: argparse.ArgumentParser, *, max_tokens: int, temperature: float) -> None:
    p.add_argument("--max-tokens", type=positive_int, default=max_tokens, help="new tokens at most")
    p.add_argument("--temperature", type=float, default=temperature, help="0 = greedy")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample from the k likeliest tokens")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass, e.g. 0.9")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help="> 1 discourages repeats")
    p.add_argument("--stop", action="append", default=[], help="stop at this string (repeatable)")
    add_seed_arg(p, "same seed, same text")
    add_device_arg(p)
    p.add_argument("--no-watermark", dest="watermark", action="store_false",
                   help="leave out the green-list watermark (on by default; `aigc verify FILE` finds it)")


def _sampling(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("max_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "stop", "seed", "watermark")
    out = {k: getattr(args, k) for k in keys}
    out["stop"] = tuple(out["stop"])
    for k in ("num_beams",):
        if hasattr(args, k):
            out[k] = getattr(args, k)
    if getattr(args, "no_cache", False):
        out["use_cache"] = False
    return out


def generate_parser(model_dir: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"aigc generate {model_dir}",
                                description="Continue a prompt with a text model. The text goes to "
                                            "stdout, the recipe (model id, seed, parameters) to stderr.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--prompt", action="append", default=None, help="prompt (repeat for a batch)")
    _add_sampling_args(p, max_tokens=200, temperature=1.0)
    p.add_argument("--num-beams", type=positive_int, default=1, help="beam search width (1 = off)")
    p.add_argument("--stream", action="store_true", help="print text as it is generated")
    p.add_argument("--no-cache", action="store_true", help="recompute the whole context every token")
    p.add_argument("--out", help="write the text here and the recipe to OUT.json")
    p.set_defaults(func=lambda a: run_generate(model_dir, a))
    return p


def run_generate(model_dir: str, args: argparse.Namespace) -> int:
    import json

    import aigc

    pipe = aigc.load(model_dir, device=args.device)
    prompts = args.prompt or [""]
    params = _sampling(args)
    if args.stream and len(prompts) == 1 and not args.out:
        sys.stdout.write(prompts[0])
        for piece in pipe.stream(prompts[0], **params):
            sys.stdout.write(piece)
            sys.stdout.flush()
        texts = None
        sys.stdout.write("\n")
    else:
        texts = pipe.generate(prompts, **params)
    recipe = pipe.recipe(prompts=prompts, **{**params, "stop": list(params["stop"])})
    if texts is not None and args.out:
        body = "\n\n".join(p + t for p, t in zip(prompts, texts))
        text_path, sidecar = pipe.save(body, args.out, prompts=prompts, **{**params, "stop": list(params["stop"])})
        print(f"wrote {text_path} and {sidecar}")
    elif texts is not None:
        print("\n\n".join(p + t for p, t in zip(prompts, texts)))
    print(json.dumps(recipe), file=sys.stderr)
    return 0


def add_chat(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("chat", help="talk to a text model (reads stdin when it is not a terminal)",
                              description="Chat with a text model trained on dialogues. Each line you "
                                          "type is a user turn; /reset clears the history, /exit ends.",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--system", default=None, help="a system message opening the dialogue")
    _add_sampling_args(p, max_tokens=200, temperature=0.8)
    p.set_defaults(func=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    import aigc

    pipe = aigc.load(args.model_dir, device=args.device)
    interactive = sys.stdin.isatty()
    params = _sampling(args)
    system = [{"role": "system", "content": args.system}] if args.system else []
    history = list(system)
    turn = 0
    while True:
        if interactive:
            print("you> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        line = line.rstrip("\n")
        if line.strip() in ("/exit", "/quit"):
            break
        if line.strip() == "/reset":
            history, turn = list(system), 0
            continue
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        prefix = "bot> " if interactive else ""
        print(prefix, end="", flush=True)
        pieces = []
        # a different but reproducible seed per turn
        for piece in pipe.stream_chat(history, **{**params, "seed": args.seed + turn}):
            pieces.append(piece)
            print(piece, end="", flush=True)
        print(flush=True)
        history.append({"role": "assistant", "content": "".join(pieces).strip()})
        turn += 1
    return 0


def add_import(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("import", help="convert a local Hugging Face GPT-2 directory to an aigc model",
                              description="Convert a local Hugging Face GPT-2 directory (config.json, "
                                          "model.safetensors, tokenizer files) into an aigc text model "
                                          "directory. Nothing is downloaded and nothing is unpickled.")
    p.add_argument("format", choices=["gpt2"], help="the source format")
    p.add_argument("src", help="Hugging Face model directory")
    p.add_argument("out", help="aigc model directory to write")
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from aigc.text.hf_import import convert_gpt2

    out = convert_gpt2(args.src, args.out)
    print(f"converted {args.src} into {out}; try: aigc generate {out} --prompt 'Hello'")
    return 0
