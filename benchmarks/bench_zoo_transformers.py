"""The transformer-era zoo specs against torchvision's own modules (issue 15), as ratios measured in one run.

* ``latency <net> batch <n>``: forward latency of ``archspec.build(net)`` / torchvision's model with the
  same (ported) weights, CPU, eval mode, ``torch.inference_mode()``; interleaved repetitions, medians.
  Target 1.02.  Attention runs through ``nn.MultiheadAttention``'s fused path as torchvision's ViT does;
  Swin's window attention is the same sequence of ATen operators as torchvision's.

torchvision is a test-only dependency (see tests/zoo/reference.py); without it this benchmark reports nothing.
Times are CPU seconds with torch on one thread, as in bench_torch.py (ARCHSPEC_BENCH_CLOCK=wall for wall time).

    python benchmarks/bench_zoo_transformers.py [--full]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
THREADS = int(os.environ.get("ARCHSPEC_BENCH_THREADS", "1"))
CLOCK = time.perf_counter if os.environ.get("ARCHSPEC_BENCH_CLOCK") == "wall" else time.process_time

LATENCY_CASES = [(net, batch) for net in ("convnext_tiny", "vit_b_16", "swin_t") for batch in (1, 8)]
TARGETS = {f"latency {net} batch {batch}": 1.02 for net, batch in LATENCY_CASES}


def main(quick: bool = False) -> dict[str, float]:
    try:
        sys.path.insert(0, str(HERE.parent))
        from tests.zoo.reference import torchvision_models

        models = torchvision_models()
    except ImportError:
        print("torchvision is not installed: no zoo latency ratios")
        return {}
    ratios: dict[str, float] = {}
    print(f"{'':28} {'archspec':>12} {'torchvision':>12} {'ratio':>7}   (torch threads: {THREADS})")
    for net, batch in LATENCY_CASES:
        rounds = (6 if quick else 20) if batch == 1 else (2 if quick else 6)
        ours, theirs = forward_latency(models, net, batch, rounds)
        name = f"latency {net} batch {batch}"
        ratios[name] = ours / theirs
        print(f"{name:28} {ours * 1e3:9.1f} ms {theirs * 1e3:9.1f} ms {ratios[name]:7.3f}", flush=True)
    return ratios


def forward_latency(models: object, net: str, batch: int, rounds: int) -> tuple[float, float]:
    """Median seconds per forward pass: (archspec's module, torchvision's), same weights and inputs."""
    import torch

    import archspec

    torch.set_num_threads(THREADS)
    theirs = getattr(models, net)().eval()
    ours = archspec.build(net, seed=0).eval()
    archspec.port_weights(ours, theirs)
    inputs = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    times: dict[int, list[float]] = {id(ours): [], id(theirs): []}
    with torch.inference_mode():
        for module in (ours, theirs):
            module(inputs)
        for round_number in range(rounds):
            pair = (ours, theirs) if round_number % 2 == 0 else (theirs, ours)
            for module in pair:
                started = CLOCK()
                module(inputs)
                times[id(module)].append(CLOCK() - started)
    return statistics.median(times[id(ours)]), statistics.median(times[id(theirs)])


if __name__ == "__main__":
    main(quick="--full" not in sys.argv)
