"""A cold process's first analysis, against the cheapest process that could do it, as ratios measured in one run.

* ``cold summary resnet18 / import pydantic, yaml``: wall time of ``python -m archspec summary resnet18`` in a
  fresh interpreter over that of ``python -c "import pydantic, yaml"`` (the two libraries every analysis needs),
  best of interleaved runs.  Report only: what is left above 1 is archspec's own imports, building the spec
  language's pydantic models (``archspec.spec.model.language``) and the analysis itself.

Printed beside it, from one more fresh process: seconds to ``import archspec``, to load the built-in ops and build
the language, and to analyse resnet18 the first time, and the same analysis warm.

    python benchmarks/bench_cold_start.py [--full]
"""

from __future__ import annotations

import json
import subprocess
import sys

from timing import ROOT, best_of_interleaved, command_time

TARGETS: dict[str, float] = {}

PHASES = """
import json, time
started = time.perf_counter()
import archspec
from archspec.spec.model import language
imported = time.perf_counter()
language()
built = time.perf_counter()
archspec.analyse("resnet18")
first = time.perf_counter()
archspec.analyse("resnet18")
print(json.dumps({"import archspec": imported - started, "built-in ops + language": built - imported,
                  "first analysis": first - built, "warm analysis": time.perf_counter() - first}))
"""


def main(quick: bool = False) -> dict[str, float]:
    summary = [sys.executable, "-m", "archspec", "summary", "resnet18"]
    baseline = [sys.executable, "-c", "import pydantic, yaml"]
    ours, theirs = best_of_interleaved(3 if quick else 7, lambda: command_time(summary),
                                       lambda: command_time(baseline))
    name = "cold summary resnet18 / import pydantic, yaml"
    done = subprocess.run([sys.executable, "-c", PHASES], cwd=ROOT, capture_output=True, text=True, check=True)
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{name}: {ours:.2f} s / {theirs:.2f} s = {ours / theirs:.2f}")
    print("  in a fresh process: " + ", ".join(f"{phase} {seconds:.3f} s" for phase, seconds in phases.items()))
    return {name: ours / theirs}


if __name__ == "__main__":
    main(quick="--full" not in sys.argv)
