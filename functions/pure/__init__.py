"""The pure runtime: a model's ONNX graph, compiled at build time into plain data (JSON), evaluated here with the
standard library alone (no numpy, nothing compiled), so a package is the interpreter, this file and the program.

The program (written by smodels.packager.convert.compile_pure, read by :func:`load_program`):

    {"format": "smodels-pure", "version": 1,
     "inputs": [{"name": "x", "type": "double" | "float" | "int64" | "string", "width": 11 | null}],
     "output": "prob",                                  # the tensor the predictor answers with
     "metadata": {"smodels.inputs": "{...}"},           # ONNX metadata_props the predictor reads
     "initializers": {"W": {"type": "double", "shape": [11, 1], "data": [[...], ...]}},   # nested lists
     "nodes": [{"op": "MatMul", "domain": "", "inputs": ["x", "W"], "outputs": ["z0"], "attrs": {...}}]}

Tensors are (type, shape, flat row-major list). Arithmetic is float64; a tensor of ONNX type float is rounded to
float32 (``array('f')``) wherever the graph produces one (a float input, a Cast to float, the float outputs of
the ai.onnx.ml operators), so tree thresholds are compared exactly as onnxruntime and the native libraries
compare them. An operator outside :data:`OPS` is refused when the program is compiled (the build then falls back
to another runtime), never at serving time.
"""

from __future__ import annotations

from functions.pure.program import INPUT_TYPES, OPS, Program, load_program
from functions.pure.tensor import FORMAT, ONNX_TYPES, VERSION, PureError, T, f32

__all__ = ["FORMAT", "INPUT_TYPES", "ONNX_TYPES", "OPS", "VERSION", "Program", "PureError", "T", "f32", "load_program"]
