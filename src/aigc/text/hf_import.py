"""Import Hugging Face GPT-2 weights from a local directory (no download) into an aigc model directory.

The source holds ``config.json`` (``model_type: gpt2``), ``model.safetensors`` and either
``tokenizer.json`` or ``vocab.json`` + ``merges.txt``. Pickled ``pytorch_model.bin`` files are
refused: nothing here ever unpickles.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from aigc import __version__
from aigc.core.config import config_to_dict
from aigc.core.errors import BadInputError
from aigc.core.modeldir import WEIGHTS_NAME, load_weights, save_weights, write_config
from aigc.text.gpt import GPT, GPTConfig
from aigc.text.tokenizer import TextTokenizer

__all__ = ["convert_gpt2", "gpt2_config", "gpt2_state_dict"]

# GPT-2 stores its linear layers as Conv1D with (in, out) weights: transpose into nn.Linear's (out, in).
_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


def gpt2_config(hf: dict) -> GPTConfig:
    """Our GPTConfig from a Hugging Face GPT-2 ``config.json`` dict."""
    if hf.get("model_type") != "gpt2":
        raise BadInputError(f"expected a GPT-2 config (model_type 'gpt2'), got {hf.get('model_type')!r}")
    act = hf.get("activation_function", "gelu_new")
    if act not in _ACTIVATIONS:
        raise BadInputError(f"unsupported GPT-2 activation {act!r}; known: {sorted(_ACTIVATIONS)}")
    return GPTConfig(vocab_size=hf["vocab_size"], context=hf["n_positions"], layers=hf["n_layer"],
                     heads=hf["n_head"], embed=hf["n_embd"], bias=True, gelu=_ACTIVATIONS[act],
                     norm_eps=hf.get("layer_norm_epsilon", 1e-5), dropout=0.0)


def gpt2_state_dict(weights: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """Map GPT-2 tensor names onto :class:`GPT`'s (``transformer.`` prefix optional)."""
    out: dict[str, torch.Tensor] = {}
    for name, value in weights.items():
        key = name.removeprefix("transformer.")
        if key.endswith((".attn.bias", ".attn.masked_bias")) or key == "lm_head.weight":
            continue  # causal-mask buffers of older exports; the head is tied to wte
        out[key] = value.t().contiguous() if key.endswith(_CONV1D) else value
    if "wte.weight" not in out:
        raise BadInputError("the GPT-2 weights have no token embedding (wte.weight)")
    out["lm_head.weight"] = out["wte.weight"]
    return out


def _tokenizer(src: Path) -> TextTokenizer:
    if (src / "tokenizer.json").is_file():
        return TextTokenizer.from_file(src / "tokenizer.json")
    vocab, merges = src / "vocab.json", src / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        raise BadInputError(f"{src}: no tokenizer.json nor vocab.json + merges.txt; add GPT-2's tokenizer files")
    import tokenizers as tk

    hf = tk.Tokenizer(tk.models.BPE.from_file(str(vocab), str(merges)))
    hf.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = tk.decoders.ByteLevel()
    hf.add_special_tokens(["<|endoftext|>"])
    return TextTokenizer(hf)


def convert_gpt2(src: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Convert a local Hugging Face GPT-2 directory into an aigc text model directory ``out_dir``."""
    src, out_dir = Path(src), Path(out_dir)
    if not (src / "config.json").is_file():
        raise BadInputError(f"{src}: not a Hugging Face model directory (no config.json)")
    if not (src / "model.safetensors").is_file():
        hint = " (it has pytorch_model.bin: re-save it with safe_serialization=True)" \
            if (src / "pytorch_model.bin").exists() else ""
        raise BadInputError(f"{src}: no model.safetensors{hint}")
    try:
        hf = json.loads((src / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{src / 'config.json'}: not valid JSON ({exc})") from exc
    config = gpt2_config(hf)
    model = GPT(config)
    try:
        model.load_state_dict(gpt2_state_dict(load_weights(src / "model.safetensors"), config), strict=True)
    except RuntimeError as exc:
        raise BadInputError(f"{src}: weights do not fit GPT-2 of this config ({exc})") from exc
    tokenizer = _tokenizer(src)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out_dir)
    save_weights(out_dir / WEIGHTS_NAME, {f"model.{k}": v for k, v in model.state_dict().items()},
                 metadata={"step": "0", "aigc_version": __version__})
    write_config(out_dir, {"aigc_version": __version__, "task": "text", "architecture": "gpt",
                           "model": config_to_dict(config),
                           "data": {"source": "huggingface-gpt2", "imported_from": src.name}})
    return out_dir
