"""ONNX import speed: ``archspec.import_onnx`` of ResNet-50 against what any consumer of the file pays first.

``import_vs_load_and_session``: in one process, importing archspec's own ResNet-50 export (reading
the protobuf and its 25.6M weights, folding, matching every node, writing the spec) over ``onnx.load``
of the same file plus creating an onnxruntime ``InferenceSession`` on it (the first thing a user of
the file does).  Target: <= 1.0; the import should cost no more than opening the model to run it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from timing import best_of_interleaved

TARGETS = {"import_vs_load_and_session": 1.0}


def export_resnet50(directory: Path) -> Path:
    from archspec.backends.onnx import write_onnx
    from archspec.backends.torch import build_module
    from archspec.graph.lower import analyse

    graph = analyse("resnet50")
    path = directory / "resnet50.onnx"
    write_onnx(graph, build_module(graph, seed=0), path)
    return path


def main(quick: bool = False) -> dict[str, float]:
    import onnx
    import onnxruntime

    from archspec.importers.onnx import import_onnx

    repeats = 3 if quick else 6
    with tempfile.TemporaryDirectory(prefix="bench_import_onnx.") as folder:
        path = export_resnet50(Path(folder))

        def ours() -> float:
            start = time.perf_counter()
            import_onnx(path)
            return time.perf_counter() - start

        def baseline() -> float:
            start = time.perf_counter()
            onnxruntime.InferenceSession(onnx.load(str(path)).SerializeToString(), providers=["CPUExecutionProvider"])
            return time.perf_counter() - start

        import_time, session_time = best_of_interleaved(repeats, ours, baseline)
    results = {"import_vs_load_and_session": import_time / session_time}
    print(f"ONNX import of ResNet-50 (best of {repeats} interleaved runs)")
    print(f"  archspec.import_onnx: {import_time:6.2f} s")
    print(f"  onnx.load + onnxruntime.InferenceSession: {session_time:6.2f} s")
    print(f"  {'import_vs_load_and_session':<30} {results['import_vs_load_and_session']:6.2f}  <= 1.0")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
