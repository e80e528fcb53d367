"""PyTorch import speed: ``archspec.import_torch`` against ``torch.export.export`` of the same module.

Both read a module by running it once (archspec with forward hooks and a function mode, torch.export
by tracing with dynamo), so the export is the natural baseline: a user who wants a static graph of a
PyTorch model pays that first.  ``resnet50_vs_export`` and ``vit_b_16_vs_export``: the import (run,
structure recovery, the spec's text) over ``torch.export.export`` on a batch of one, best of several
interleaved runs in one process.  Target: <= 1.0 each.  torchvision is only the source of the models.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from timing import best_of_interleaved

TARGETS = {"resnet50_vs_export": 1.0, "vit_b_16_vs_export": 1.0}


def main(quick: bool = False) -> dict[str, float]:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import archspec
    from tests.zoo.reference import torchvision_models

    repeats = 2 if quick else 4
    results: dict[str, float] = {}
    print(f"PyTorch import against torch.export.export (best of {repeats} interleaved runs)")
    for name in ("resnet50", "vit_b_16"):
        module = getattr(torchvision_models(), name)().eval()
        example = (torch.randn(1, 3, 224, 224),)

        def ours(module: torch.nn.Module = module) -> float:
            start = time.perf_counter()
            archspec.import_torch(module, (3, 224, 224))
            return time.perf_counter() - start

        def baseline(module: torch.nn.Module = module, example: tuple[torch.Tensor, ...] = example) -> float:
            start = time.perf_counter()
            torch.export.export(module, example)
            return time.perf_counter() - start

        import_time, export_time = best_of_interleaved(repeats, ours, baseline)
        key = f"{name}_vs_export"
        results[key] = import_time / export_time
        print(f"  {name}: archspec.import_torch {import_time:6.2f} s, torch.export.export {export_time:6.2f} s")
        print(f"  {key:<30} {results[key]:6.2f}  <= {TARGETS[key]}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
