"""How fast diagrams are made: DOT generation against graph analysis and against drawing with ``dot``.

All three are measured in the same run on the same network (ResNet-152, the deepest built-in
spec), so the ratios hold on any machine: DOT generation should be a small fraction of the
analysis it starts from, and negligible next to Graphviz's layout.

    .venv/bin/python benchmarks/bench_render.py [--quick]
"""

from __future__ import annotations

import sys

from timing import best_time

NETWORK = "resnet152"


TARGETS = {
    "resnet152 DOT / analysis": 1.5,
    "resnet152 DOT / render svg": 1.0,
    "resnet152 --expand DOT / analysis": 5.0,
    "resnet152 --expand DOT / render svg": 1.0,
}


def main(quick: bool = False) -> dict[str, float]:
    import graphviz  # noqa: F401  (imported before timing: the import is not DOT generation)

    from archspec.backends.graphviz import diagram_dot
    from archspec.backends.graphviz.render import render_dot
    from archspec.graph.lower import analyse

    repeats = 3 if quick else 10
    render_repeats = 1 if quick else 3
    graph = analyse(NETWORK)
    analysis = best_time(lambda: analyse(NETWORK), repeats)
    print(f"   {NETWORK} ({len(graph.nodes)} layers): analysis {analysis * 1e3:.1f} ms")
    ratios: dict[str, float] = {}
    for label, options in (("", {}), (" --expand", {"expand": True})):
        generation = best_time(lambda options=options: diagram_dot(graph, **options), repeats)
        source = diagram_dot(graph, **options)
        drawing = best_time(lambda source=source: render_dot(source, "svg"), render_repeats)
        print(f"   {NETWORK}{label}: DOT {generation * 1e3:.1f} ms, render svg {drawing * 1e3:.0f} ms")
        ratios[f"{NETWORK}{label} DOT / analysis"] = generation / analysis
        ratios[f"{NETWORK}{label} DOT / render svg"] = generation / drawing
    return ratios


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
