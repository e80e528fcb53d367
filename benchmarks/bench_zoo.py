"""The torchvision zoo in the language (issue 15), as ratios measured in one run.

* ``latency <net> batch <n>``: forward latency of ``archspec.build(net)`` / torchvision's own model with
  the same weights (ported by order), CPU, eval mode, ``torch.inference_mode()``, one torch thread,
  interleaved repetitions, medians (CPU time; see bench_torch).  Target 1.02.
* ``analysis <family>``: seconds of the slowest static analysis of that family's zoo specs (load,
  expressions, lowering, shapes), as a fraction of 0.5 s.  Target 1.0.

torchvision is the tests' reference (tests/zoo/reference.py); it is imported the same way here.

    python benchmarks/bench_zoo.py [--full]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

from bench_torch import THREADS, interleaved_latency

ROOT = Path(__file__).resolve().parent.parent
LATENCY_CASES = [("mobilenet_v3_large", 1), ("mobilenet_v3_large", 8), ("efficientnet_b0", 1),
                 ("efficientnet_b0", 8)]
ANALYSIS_BUDGET = 0.5

TARGETS = {f"latency {net} batch {batch}": 1.02 for net, batch in LATENCY_CASES}


def main(quick: bool = False) -> dict[str, float]:
    ratios: dict[str, float] = {}
    rows = []
    for net, batch in LATENCY_CASES:
        rounds = (15 if quick else 40) if batch == 1 else (5 if quick else 15)
        ours, theirs = forward_latency(net, batch, rounds)
        name = f"latency {net} batch {batch}"
        ratios[name] = ours / theirs
        rows.append((name, f"{ours * 1e3:.1f} ms", f"{theirs * 1e3:.1f} ms", ratios[name]))
    for family, (slowest, seconds) in slowest_analyses().items():
        name = f"analysis {family}"
        ratios[name] = seconds / ANALYSIS_BUDGET
        TARGETS[name] = 1.0
        rows.append((name, f"{seconds:.3f} s", f"{slowest}", ratios[name]))
    print(f"{'':36} {'archspec':>12} {'torchvision':>20} {'ratio':>7}   (torch threads: {THREADS})")
    for name, ours_text, theirs_text, ratio in rows:
        print(f"{name:36} {ours_text:>12} {theirs_text:>20} {ratio:7.3f}")
    return ratios


def torchvision_model(name: str):
    sys.path.insert(0, str(ROOT))
    try:
        from tests.zoo.harness import torchvision_model as make
    finally:
        sys.path.remove(str(ROOT))
    return make(name)


def forward_latency(net: str, batch: int, rounds: int) -> tuple[float, float]:
    """Median seconds per forward pass: (archspec's module, torchvision's), same weights."""

    import torch

    import archspec

    torch.set_num_threads(THREADS)
    theirs = torchvision_model(net)
    ours = archspec.build(net, seed=0).eval()
    archspec.port_weights(ours, theirs.state_dict())
    inputs = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    return interleaved_latency(ours, theirs, inputs, rounds)


def slowest_analyses() -> dict[str, tuple[str, float]]:
    """Per family: the zoo spec whose static analysis took longest, and its seconds (best of two)."""
    import archspec
    from archspec.spec.builtin import zoo_spec_names

    slowest: dict[str, tuple[str, float]] = defaultdict(lambda: ("", 0.0))
    for name in zoo_spec_names():
        family = name.rstrip("0123456789_").split("_x")[0].split("_y")[0] if name.startswith("regnet") else \
            name.split("_")[0].rstrip("0123456789")
        seconds = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            archspec.analyse(name)
            seconds = min(seconds, time.perf_counter() - started)
        if seconds > slowest[family][1]:
            slowest[family] = (name, seconds)
    return dict(slowest)


if __name__ == "__main__":
    main(quick="--full" not in sys.argv)
