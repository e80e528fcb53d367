"""How fast diagrams are made: DOT generation against graph analysis and against drawing with ``dot``.

All three are measured in the same run on the same network (ResNet-152, the deepest built-in
spec), so the ratios hold on any machine: DOT generation should be a small fraction of the
analysis it starts from, and negligible next to Graphviz's layout.

    .venv/bin/python benchmarks/bench_render.py [--quick]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

NETWORK = "resnet152"


def best_time(action: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main(quick: bool = False) -> dict[str, float]:
    import graphviz  # noqa: F401  (imported before timing: the import is not DOT generation)

    from archspec.backends.graphviz import diagram_dot
    from archspec.backends.graphviz.render import render_dot
    from archspec.graph.lower import analyse

    repeats = 3 if quick else 10
    graph = analyse(NETWORK)
    analysis = best_time(lambda: analyse(NETWORK), repeats)
    dot_default = best_time(lambda: diagram_dot(graph), repeats)
    dot_expanded = best_time(lambda: diagram_dot(graph, expand=True), repeats)
    source = diagram_dot(graph)
    expanded_source = diagram_dot(graph, expand=True)
    render_repeats = 1 if quick else 3
    render_default = best_time(lambda: render_dot(source, "svg"), render_repeats)
    render_expanded = best_time(lambda: render_dot(expanded_source, "svg"), render_repeats)
    results = {
        "dot_vs_analysis": dot_default / analysis,
        "dot_vs_render": dot_default / render_default,
        "expanded_dot_vs_analysis": dot_expanded / analysis,
        "expanded_dot_vs_render": dot_expanded / render_expanded,
        "analysis_ms": analysis * 1e3,
        "dot_ms": dot_default * 1e3,
        "render_svg_ms": render_default * 1e3,
        "expanded_dot_ms": dot_expanded * 1e3,
        "expanded_render_svg_ms": render_expanded * 1e3,
    }
    print(f"diagrams of {NETWORK} ({len(graph.nodes)} layers), best of {repeats} (render: {render_repeats})")
    print(f"{'':<12}{'DOT ms':>10}{'analysis ms':>14}{'render ms':>12}{'DOT/analysis':>15}{'DOT/render':>13}")
    for label, prefix in (("default", ""), ("--expand", "expanded_")):
        dot_ms = results[f"{prefix}dot_ms"]
        render_ms = results[f"{prefix}render_svg_ms"]
        print(f"{label:<12}{dot_ms:>10.1f}{results['analysis_ms']:>14.1f}{render_ms:>12.1f}"
              f"{results[f'{prefix}dot_vs_analysis']:>15.2f}{results[f'{prefix}dot_vs_render']:>13.3f}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
