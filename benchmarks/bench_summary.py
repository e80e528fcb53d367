"""Static analysis speed (issue 3).

* in-process: archspec's shape inference of resnet152 (lowering + shapes + params + MACs) vs a
  torch meta-device forward pass through the same network, the cheapest way torch can tell the
  shapes;
* cold process: ``archspec summary specs/resnet152.yaml`` vs ``python -c "import torch"``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from timing import median_time

REPO = Path(__file__).resolve().parent.parent

TARGETS = {
    "resnet152 inference / torch meta forward": 1.0,
    "cold summary resnet152 / import torch": 0.33,
}


def _cold(command: list[str], repeat: int) -> float:
    def run() -> None:
        subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)

    run()  # warm the file cache
    return median_time(run, repeat)


def main(quick: bool = False) -> dict[str, float]:
    import torch

    import archspec

    repeat = 5 if quick else 20
    spec = archspec.load("resnet152")
    archspec.analyse(spec)
    inference = median_time(lambda: archspec.analyse(spec), repeat)
    model = archspec.build("resnet152", device="meta")
    example = torch.empty(1, 3, 224, 224, device="meta")
    with torch.no_grad():
        model(example)
        meta_forward = median_time(lambda: model(example), repeat)
    archspec_cli = str(Path(sys.executable).parent / "archspec")
    summary = _cold([archspec_cli, "summary", "specs/resnet152.yaml"], 3 if quick else 7)
    import_torch = _cold([sys.executable, "-c", "import torch"], 3 if quick else 7)
    print(f"   resnet152 inference {inference * 1e3:.2f} ms, meta forward {meta_forward * 1e3:.2f} ms; "
          f"cold summary {summary:.2f} s, import torch {import_torch:.2f} s")
    return {
        "resnet152 inference / torch meta forward": inference / meta_forward,
        "cold summary resnet152 / import torch": summary / import_torch,
    }


if __name__ == "__main__":
    print(main())
