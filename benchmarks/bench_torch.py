"""The PyTorch backend against hand-written PyTorch (issue 4), as ratios measured in one run.

* ``latency <net> batch <n>``: forward latency of ``archspec.build(net)`` / the hand-written
  torchvision-style module (benchmarks/torch_reference.py) with the same weights, CPU, eval mode,
  ``torch.inference_mode()``; interleaved repetitions, medians.  Target 1.02.  (Both run the very
  same sequence of ATen operators; what differs is Python: module calls and attribute look-ups.)
* ``build time <net>``: seconds from the spec's name to an initialized module (load, analyse,
  generate, construct) / seconds constructing the hand-written module.  Target 1.1.
* ``build memory <net>``: peak resident memory added by that build / by the hand-written one.
  Target 1.1.  Each build runs in a fresh process (imports done before the clock starts).

Times are CPU seconds of the process (``time.process_time``) with torch on one thread: on a
shared machine wall-clock times swing by a factor of two with other people's load, CPU time of a
single-threaded computation much less.  Set ARCHSPEC_BENCH_CLOCK=wall for wall-clock times.

    python benchmarks/bench_torch.py [--full]
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
THREADS = int(os.environ.get("ARCHSPEC_BENCH_THREADS", "1"))
CLOCK = time.perf_counter if os.environ.get("ARCHSPEC_BENCH_CLOCK") == "wall" else time.process_time

LATENCY_CASES = [("resnet18", 1), ("resnet18", 8), ("resnet50", 1), ("resnet50", 8)]
BUILD_CASES = ["vgg16", "resnet152"]

TARGETS = {
    **{f"latency {net} batch {batch}": 1.02 for net, batch in LATENCY_CASES},
    **{f"build time {net}": 1.1 for net in BUILD_CASES},
    **{f"build memory {net}": 1.1 for net in BUILD_CASES},
}


def main(quick: bool = False) -> dict[str, float]:
    ratios: dict[str, float] = {}
    rows: list[tuple[str, str, str, float]] = []
    for net, batch in LATENCY_CASES:
        rounds = (15 if quick else 40) if batch == 1 else (4 if quick else 12)
        ours, theirs = forward_latency(net, batch, rounds)
        name = f"latency {net} batch {batch}"
        ratios[name] = ours / theirs
        rows.append((name, f"{ours * 1e3:.1f} ms", f"{theirs * 1e3:.1f} ms", ratios[name]))
    for net in BUILD_CASES:
        ours_runs = [measure_build_in_fresh_process("archspec", net) for _ in range(1 if quick else 3)]
        theirs_runs = [measure_build_in_fresh_process("reference", net) for _ in range(1 if quick else 3)]
        for what, unit, scale in (("seconds", "s", 1.0), ("peak_bytes", "MB", 1e-6)):
            ours = statistics.median(run[what] for run in ours_runs)
            theirs = statistics.median(run[what] for run in theirs_runs)
            name = f"build {'time' if what == 'seconds' else 'memory'} {net}"
            ratios[name] = ours / theirs
            rows.append((name, f"{ours * scale:.2f} {unit}", f"{theirs * scale:.2f} {unit}", ratios[name]))
    clock = "wall" if CLOCK is time.perf_counter else "CPU"
    print(f"{'':28} {'archspec':>12} {'hand-written':>14} {'ratio':>7}   ({clock} time, torch threads: {THREADS})")
    for name, ours_text, theirs_text, ratio in rows:
        print(f"{name:28} {ours_text:>12} {theirs_text:>14} {ratio:7.3f}")
    return ratios


def interleaved_latency(ours: Any, theirs: Any, inputs: Any, rounds: int) -> tuple[float, float]:
    """Median seconds per forward pass of two modules on the same inputs, alternating which goes first each
    round (after two warm-up passes each), so both see the same machine."""
    import torch

    times: dict[int, list[float]] = {id(ours): [], id(theirs): []}
    with torch.inference_mode():
        for module in (ours, theirs, ours, theirs):
            module(inputs)
        for round_number in range(rounds):
            pair = (ours, theirs) if round_number % 2 == 0 else (theirs, ours)
            for module in pair:
                started = CLOCK()
                module(inputs)
                times[id(module)].append(CLOCK() - started)
    return statistics.median(times[id(ours)]), statistics.median(times[id(theirs)])


def forward_latency(net: str, batch: int, rounds: int) -> tuple[float, float]:
    """Median seconds per forward pass: (archspec's module, the hand-written one), same weights."""
    import torch
    from torch_reference import reference

    import archspec

    torch.set_num_threads(THREADS)
    ours = archspec.build(net, seed=0).eval()
    theirs = reference(net).eval()
    archspec.port_weights(theirs, ours.state_dict())
    inputs = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    return interleaved_latency(ours, theirs, inputs, rounds)


def measure_build_in_fresh_process(kind: str, net: str) -> dict[str, float]:
    """Build time and peak memory of one build, in a new interpreter (see ``_measure_build``)."""
    completed = subprocess.run([sys.executable, __file__, "--measure-build", kind, net], check=True,
                               capture_output=True, text=True, cwd=HERE.parent)
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _measure_build(kind: str, net: str) -> dict[str, Any]:
    import torch
    from torch_reference import reference

    import archspec
    import archspec.backends.torch

    torch.set_num_threads(THREADS)
    baseline = _resident_bytes("VmRSS")
    _reset_peak()
    started = CLOCK()
    model = archspec.build(net) if kind == "archspec" else reference(net)
    seconds = CLOCK() - started
    peak = _resident_bytes("VmHWM") - baseline
    del model
    return {"seconds": seconds, "peak_bytes": peak}


def _resident_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    """Reset VmHWM to the current size, so the peak counts the build only (Linux 4.0+)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    if len(sys.argv) == 4 and sys.argv[1] == "--measure-build":
        print(json.dumps(_measure_build(sys.argv[2], sys.argv[3])))
    else:
        main(quick="--full" not in sys.argv)
