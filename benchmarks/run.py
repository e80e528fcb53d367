"""Run every benchmark (benchmarks/bench_*.py) and check its ratios against the targets.

Each benchmark module defines ``main(quick: bool = False) -> dict[str, float]`` (named ratios,
each measured against a baseline in the same run) and ``TARGETS: dict[str, float]`` (the largest
acceptable value of each ratio).  ``--strict`` exits 1 when a ratio misses its target by more
than the noise ``--tolerance`` (default 25%: CI machines are shared).

    python benchmarks/run.py            # the quick profile, a report
    python benchmarks/run.py --full --strict
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE))
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the long profile (more repetitions)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a ratio misses its target")
    parser.add_argument("--tolerance", type=float, default=0.25, help="allowed relative excess over a target")
    parser.add_argument("--only", help="run only benchmarks whose file name contains this")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: dict[str, dict[str, float | None]] = {}
    failures = []
    for path in discover():
        if args.only and args.only not in path.name:
            continue
        module = load(path)
        started = time.perf_counter()
        print(f"== {path.stem}", flush=True)
        ratios = module.main(quick=not args.full)
        targets = getattr(module, "TARGETS", {})
        for name, ratio in ratios.items():
            target = targets.get(name)
            verdict = ""
            if target is not None:
                verdict = "ok" if ratio <= target else ("NOISE?" if ratio <= target * (1 + args.tolerance) else "MISS")
                if verdict == "MISS":
                    failures.append(f"{path.stem}: {name} = {ratio:.3f} > {target}")
            results[f"{path.stem}.{name}"] = {"ratio": ratio, "target": target}
            shown_target = f"<= {target}" if target is not None else "(report)"
            print(f"   {name:48} {ratio:10.3f}  {shown_target:10} {verdict}")
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if failures:
        print("targets missed:\n  " + "\n  ".join(failures))
        return 1 if args.strict else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
