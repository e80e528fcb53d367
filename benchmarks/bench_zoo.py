"""The torchvision zoo in the language (issue 15), as ratios measured in one run.

* ``latency <net> batch <n>``: forward latency of ``archspec.build(net)`` / torchvision's own model with
  the same weights (ported by order), CPU, eval mode, ``torch.inference_mode()``, one torch thread,
  interleaved repetitions, medians (CPU time; see bench_torch).  Target 1.02.
* ``analysis per layer, slowest zoo spec / resnet50``: the static analysis (load, expressions, lowering,
  shapes) of the zoo spec that takes longest, per layer, against ResNet-50's per layer in the same run:
  analysis should stay linear in the network (a quadratic step shows here first).  Target 1.5.  Its
  seconds are printed too, warm and in a fresh process (the language's models are built once per
  process, about 0.3 s of a cold run), for the issue's 0.5 s budget.

torchvision is the tests' reference (tests/zoo/reference.py); it is imported the same way here.

    python benchmarks/bench_zoo.py [--full]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench_torch import THREADS, interleaved_latency
from timing import best_time, command_time

ROOT = Path(__file__).resolve().parent.parent
LATENCY_CASES = [("mobilenet_v3_large", 1), ("mobilenet_v3_large", 8), ("efficientnet_b0", 1),
                 ("efficientnet_b0", 8)]
BASELINE = "resnet50"

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
    slowest, seconds, per_layer = slowest_analysis()
    baseline = analysis_per_layer(BASELINE)
    name = f"analysis per layer, slowest zoo spec / {BASELINE}"
    ratios[name] = per_layer / baseline
    TARGETS[name] = 1.5
    cold = command_time([sys.executable, "-c", f"import archspec; archspec.analyse({slowest!r})"])
    rows.append((name, f"{seconds:.3f} s", f"{slowest} (cold {cold:.2f} s)", ratios[name]))
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


def analysis_seconds(name: str) -> float:
    import archspec

    return best_time(lambda: archspec.analyse(name), 3)


def analysis_per_layer(name: str) -> float:
    import archspec

    return analysis_seconds(name) / len(archspec.analyse(name).nodes)


def slowest_analysis() -> tuple[str, float, float]:
    """The zoo spec whose static analysis takes longest: its name, seconds and seconds per layer."""
    import archspec
    from archspec.spec.builtin import zoo_spec_names

    timed = {name: analysis_seconds(name) for name in zoo_spec_names()}
    slowest = max(timed, key=timed.__getitem__)
    return slowest, timed[slowest], timed[slowest] / len(archspec.analyse(slowest).nodes)


if __name__ == "__main__":
    main(quick="--full" not in sys.argv)
