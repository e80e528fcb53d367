"""How many of torchvision's 80 classification models `archspec import` reads from torch's ONNX exports, and why not.

    python scripts/import_zoo_onnx.py                             # all 80, both exporters
    python scripts/import_zoo_onnx.py vit_b_16 shufflenet_v2_x0_5 --exporter torchscript

Each model (randomly initialised, batch-norm statistics randomised, at min(224, its published resolution);
inception_v3 at 299) is exported by ``torch.onnx.export`` with TorchScript (``dynamo=False``) and/or dynamo,
imported with its weights, built, and run beside onnxruntime on the exported file: ok when the outputs agree
within 1e-4 of their scale.  One row per model and exporter: model, exporter, ok or why not, spec lines,
seconds.  Exports are written to a temporary folder and removed after each model.  torchvision is a test-only
reference: this script lives outside the library.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archspec
from archspec.importers.onnx import import_onnx_file
from tests.zoo.harness import published, randomize_batch_norms, torchvision_model
from tests.zoo.reference import TORCHVISION

EXPORTERS = ("torchscript", "dynamo")


def input_size(name: str) -> int:
    """The harness's size: min(224, the published resolution); inception_v3's auxiliary head wants 299."""
    return 299 if name == "inception_v3" else min(224, published(name).resolution)


def export(module: torch.nn.Module, size: int, path: Path, exporter: str) -> None:
    """``torch.onnx.export`` with a dynamic batch, as tests/importers/test_onnx.py does."""
    example = torch.randn(2 if exporter == "dynamo" else 1, 3, size, size)  # dynamo fixes a batch of 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            torch.onnx.export(module, (example,), str(path), dynamo=True, verbose=False,
                              dynamic_shapes=({0: torch.export.Dim("batch")},))
        else:
            torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})


def round_trip(name: str, exporter: str, folder: Path) -> tuple[str, int | None]:
    """``ok`` or the first line of the reason it fails, and the spec's lines (None without a spec)."""
    size = input_size(name)
    source = torchvision_model(name, size)
    randomize_batch_norms(source)
    onnx_path = folder / f"{name}.onnx"
    try:
        export(source, size, onnx_path, exporter)
    except Exception as exc:
        return f"export fails: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", None
    del source
    lines = None
    try:
        weights = folder / f"{name}.pt"
        text = import_onnx_file(onnx_path, weights=weights)
        lines = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
        spec = folder / f"{name}.yaml"
        spec.write_text(text)
        built = archspec.build(str(spec), weights=str(weights)).eval()
        sample = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
        expected = onnxruntime_outputs(onnx_path, sample)
        with torch.no_grad():
            actual = built(torch.from_numpy(sample)).numpy()
    except Exception as exc:
        message = exc.format() if hasattr(exc, "format") else f"{type(exc).__name__}: {exc}"
        return next(line for line in str(message).splitlines() if line.strip()), lines
    error = float(np.abs(actual - expected).max()) / max(1.0, float(np.abs(expected).max()))
    return ("ok" if error <= 1e-4 else f"outputs differ by {error:.2g} of their scale"), lines


def onnxruntime_outputs(path: Path, sample: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: sample})[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="torchvision model names (default: all 80)")
    parser.add_argument("--exporter", choices=(*EXPORTERS, "both"), default="both")
    arguments = parser.parse_args(argv)
    names = arguments.names or sorted(TORCHVISION)
    exporters = EXPORTERS if arguments.exporter == "both" else (arguments.exporter,)
    passed = dict.fromkeys(exporters, 0)
    print(f"{'model':22} {'exporter':11} {'lines':>5} {'seconds':>7}  result", flush=True)
    for name in names:
        for exporter in exporters:
            folder = Path(tempfile.mkdtemp(prefix="import-zoo-onnx-"))
            start = time.perf_counter()
            try:
                result, lines = round_trip(name, exporter, folder)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            passed[exporter] += result == "ok"
            shown = "-" if lines is None else str(lines)
            print(f"{name:22} {exporter:11} {shown:>5} {time.perf_counter() - start:7.1f}  {result}", flush=True)
    for exporter in exporters:
        print(f"{exporter}: {passed[exporter]} of {len(names)} import and match onnxruntime")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
