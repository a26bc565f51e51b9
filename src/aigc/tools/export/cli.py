"""``aigc export MODEL --format onnx --out model.onnx`` (light at import: argparse only)."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_export", "run_export"]


def add_export(subparsers: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    from aigc.core.cli_args import HelpFormatter

    p = subparsers.add_parser(
        "export", help="export a model's networks to ONNX, checked against PyTorch in onnxruntime",
        formatter_class=HelpFormatter,
        description="Write the model's inference networks as ONNX graphs (every axis dynamic; a GPT with its "
                    "KV cache as inputs and outputs, one graph for prompt and later tokens) plus "
                    "MODEL.onnx.json. Each graph is run in onnxruntime on example inputs and refused when it "
                    "differs from PyTorch. Serve it through the same Pipeline with "
                    "aigc.tools.export.load(MODEL, 'model.onnx'). "
                    "Example: aigc export runs/char-gpt --format onnx --out gpt.onnx")
    p.add_argument("model", help="model directory (only read)")
    p.add_argument("--format", choices=["onnx"], default="onnx", help="export format")
    p.add_argument("--out", required=True, help="file to write, e.g. model.onnx (several networks: model.NET.onnx)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17)")
    p.add_argument("--json", action="store_true", help="print the export record as JSON")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aigc.tools.export.onnx import export_onnx

    record = export_onnx(args.model, args.out, opset=args.opset)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    for name, info in record["networks"].items():
        size = (Path(args.out).parent / info["file"]).stat().st_size
        cache = " (with KV cache)" if info["cached"] else ""
        print(f"{name}{cache}: {Path(args.out).parent / info['file']} ({size / 1e6:.2f} MB, opset {record['opset']}, "
              f"max |onnxruntime - pytorch| = {info['max_abs_error']:.2g})")
    return 0
