"""How fast volume figures are made: against the analysis they start from and the Graphviz-style diagram.

All measured in the same run on ResNet-152, the deepest built-in spec: the folded figure should
cost about what the analysis costs (it runs the same folding as the Graphviz style, then a plain
layout and hand-written SVG), and far less than Graphviz's layout of the same network.  The
expanded figure (every layer) is measured too.

    .venv/bin/python benchmarks/bench_volumes.py [--quick]
"""

from __future__ import annotations

import sys

from timing import best_time

NETWORK = "resnet152"


TARGETS = {
    "resnet152 volumes SVG / analysis": 2.0,
    "resnet152 volumes SVG / graph-style SVG": 0.6,
    "resnet152 --expand volumes SVG / analysis": 8.0,
    "resnet152 --expand volumes SVG / graph-style SVG": 0.6,
}


def main(quick: bool = False) -> dict[str, float]:
    import graphviz  # noqa: F401  (imported before timing)

    from archspec.backends.graphviz import diagram_dot
    from archspec.backends.graphviz.render import render_dot
    from archspec.backends.volumes import volume_svg
    from archspec.graph.lower import analyse

    repeats = 3 if quick else 10
    render_repeats = 1 if quick else 3
    graph = analyse(NETWORK)
    analysis = best_time(lambda: analyse(NETWORK), repeats)
    print(f"   {NETWORK} ({len(graph.nodes)} layers): analysis {analysis * 1e3:.1f} ms")
    ratios: dict[str, float] = {}
    for label, options in (("", {}), (" --expand", {"expand": True})):
        volumes = best_time(lambda options=options: volume_svg(graph, **options), repeats)
        graph_style = best_time(lambda options=options: render_dot(diagram_dot(graph, **options), "svg"),
                                render_repeats)
        print(f"   {NETWORK}{label}: volumes SVG {volumes * 1e3:.1f} ms, graph-style SVG {graph_style * 1e3:.0f} ms")
        ratios[f"{NETWORK}{label} volumes SVG / analysis"] = volumes / analysis
        ratios[f"{NETWORK}{label} volumes SVG / graph-style SVG"] = volumes / graph_style
    return ratios


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
