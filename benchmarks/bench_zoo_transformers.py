"""The transformer-era zoo specs against torchvision's own modules (issue 15), as ratios measured in one run.

* ``latency <net> batch <n>``: forward latency of ``archspec.build(net)`` / torchvision's model with the
  same (ported) weights, CPU, eval mode, ``torch.inference_mode()``; interleaved repetitions, medians.
  Target 1.02.  Attention runs through ``nn.MultiheadAttention``'s fused path as torchvision's ViT does;
  Swin's and Swin v2's window attention run through ``scaled_dot_product_attention`` (torchvision: explicit
  matrix products and softmax), as do MaxViT's block and grid attention.  Inputs at each model's
  published resolution (swin_v2_t: 256).

* ``cold onnx <net>``: wall time of a fresh process running ``archspec compile NAME --onnx`` / a fresh
  process building torchvision's model and running ``torch.onnx.export(dynamo=True)`` with a dynamic batch
  (``python benchmarks/bench_zoo_transformers.py --torch-baseline NAME OUT.onnx``).  Target 0.5.

torchvision is a test-only dependency (see tests/zoo/reference.py); without it this benchmark reports nothing.
Times are CPU seconds with torch on one thread, as in bench_torch.py (ARCHSPEC_BENCH_CLOCK=wall for wall time).

    python benchmarks/bench_zoo_transformers.py [--full]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench_torch import THREADS, interleaved_latency

HERE = Path(__file__).resolve().parent

LATENCY_CASES = [(net, batch) for net in ("convnext_tiny", "vit_b_16", "swin_t", "swin_v2_t", "maxvit_t")
                 for batch in (1, 8)]
ONNX_CASES = ["vit_b_16", "convnext_tiny"]
TARGETS = {**{f"latency {net} batch {batch}": 1.02 for net, batch in LATENCY_CASES},
           **{f"cold onnx {net}": 0.5 for net in ONNX_CASES}}


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
    for net in ONNX_CASES:
        ours, theirs = cold_onnx(net, 1 if quick else 3)
        name = f"cold onnx {net}"
        ratios[name] = ours / theirs
        print(f"{name:28} {ours:10.1f} s {theirs:10.1f} s {ratios[name]:7.3f}", flush=True)
    return ratios


def cold_onnx(net: str, repeats: int) -> tuple[float, float]:
    """Best wall seconds of a fresh ``archspec compile NET --onnx`` and of a fresh torch dynamo export."""
    import tempfile

    from timing import best_of_interleaved, command_time

    with tempfile.TemporaryDirectory() as folder:
        ours = [sys.executable, "-m", "archspec", "compile", net, "--onnx", "--out-dir", f"{folder}/archspec"]
        theirs = [sys.executable, __file__, "--torch-baseline", net, f"{folder}/torch.onnx"]
        best = best_of_interleaved(repeats, lambda: command_time(ours), lambda: command_time(theirs))
    return best[0], best[1]


def torch_baseline(net: str, path: str) -> None:
    """What a user without archspec runs: build torchvision's model, export it with the dynamo exporter."""
    import torch

    sys.path.insert(0, str(HERE.parent))
    from tests.zoo.reference import torchvision_models

    model = getattr(torchvision_models(), net)().eval()
    batch = torch.export.Dim("batch")
    torch.onnx.export(model, (torch.randn(2, 3, 224, 224),), path, dynamo=True, dynamic_shapes=({0: batch},))


def forward_latency(models: object, net: str, batch: int, rounds: int) -> tuple[float, float]:
    """Median seconds per forward pass: (archspec's module, torchvision's), same weights and inputs."""
    import torch

    import archspec

    torch.set_num_threads(THREADS)
    theirs = getattr(models, net)().eval()
    ours = archspec.build(net, seed=0).eval()
    archspec.port_weights(ours, theirs)
    inputs = torch.randn(batch, *archspec.analyse(net).input_shape, generator=torch.Generator().manual_seed(0))
    return interleaved_latency(ours, theirs, inputs, rounds)


if __name__ == "__main__":
    if "--torch-baseline" in sys.argv:
        torch_baseline(*sys.argv[sys.argv.index("--torch-baseline") + 1:][:2])
    else:
        main(quick="--full" not in sys.argv)
