"""How many of torchvision's 80 classification models `archspec import` round-trips, and why the others do not.

    python scripts/import_zoo.py                  # all 80, at 224x224 (inception_v3 at 299x299)
    python scripts/import_zoo.py resnet50 vit_b_16

A round trip: import, build the spec, load the source's state_dict strictly, equal outputs (<= 1e-4 of the
output scale).  torchvision is a test-only reference: this script lives outside the library.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import archspec
from tests.zoo.reference import TORCHVISION, torchvision_models


def round_trip(name: str, folder: Path) -> str:
    """``ok (N lines)`` or the first line of the reason it fails."""
    torch.manual_seed(0)
    source = getattr(torchvision_models(), name)().eval()
    size = 299 if name == "inception_v3" else 224  # its auxiliary head, run in training mode, needs 299
    shape = (3, size, size)
    try:
        text = archspec.import_torch(source, shape)
        path = folder / f"{name}.yaml"
        path.write_text(text)
        built = archspec.build(str(path)).eval()
        built.load_state_dict(source.state_dict(), strict=True)
        x = torch.randn(1, *shape)
        with torch.no_grad():
            expected, actual = source(x), built(x)
    except Exception as exc:
        message = exc.format() if hasattr(exc, "format") else f"{type(exc).__name__}: {exc}"
        return "FAIL " + next(line for line in str(message).splitlines() if line.strip())
    error = (actual - expected).abs().max().item() / max(1.0, expected.abs().max().item())
    lines = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return f"ok ({lines} lines)" if error <= 1e-4 else f"FAIL outputs differ by {error:.2g} of their scale"


def main(names: list[str]) -> int:
    names = names or sorted(TORCHVISION)
    passed = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            start = time.perf_counter()
            result = round_trip(name, Path(folder))
            passed += result.startswith("ok")
            print(f"{name:24} {time.perf_counter() - start:6.1f} s  {result}", flush=True)
    print(f"{passed} of {len(names)} round-trip")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
