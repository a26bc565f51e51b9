"""Export any exportable model directory to ONNX and run it in onnxruntime through the same Pipeline.

``export_onnx(model, "model.onnx")`` writes the graph(s) and ``model.onnx.json``;
``use_onnx(aigc.load(model), "model.onnx")`` swaps the Pipeline's networks for onnxruntime ones.
"""

from __future__ import annotations

from aigc.core.lazy import lazy_exports

__all__ = ["export_onnx", "load", "use_onnx"]

__getattr__, __dir__ = lazy_exports(__name__, {"export_onnx": "onnx", "use_onnx": "runtime", "load": "runtime"})
