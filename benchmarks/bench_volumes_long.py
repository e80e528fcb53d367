"""How the volume figure of a long network scales: linear in its length, as the Graphviz style's source.

A DenseNet-like network written in today's language (a dense layer is a block that concatenates its
input with a new branch of batch norm, ReLU and a convolution, repeated; every iteration has more
channels, so nothing folds) at 400 and 1,600 layers.  Measured in the same run:

* the volume figure (SVG) of the 400-layer network against the Graphviz-style DOT source of the
  same network (the same view and folding, without any layout): the figure's own layout and
  drawing may cost a few times that, never a power of the length;
* the 1,600-layer figure against the 400-layer one: a layout linear in the length gives about 4,
  a quadratic step 16.

    .venv/bin/python benchmarks/bench_volumes_long.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from timing import best_time

SHORT, LONG = 400, 1600

TARGETS = {
    f"{SHORT}-layer volumes SVG / DOT source": 6.0,
    f"{SHORT}-layer --expand volumes SVG / DOT source": 6.0,
    f"{LONG} / {SHORT} layers, volumes SVG": 6.0,
    f"{LONG} / {SHORT} layers, --expand volumes SVG": 6.0,
}


def dense_spec(layers: int) -> str:
    """A DenseNet-like spec of about ``layers`` layers (four per dense layer)."""
    return f"""archspec: 1
name: dense{layers}
input: [3, 64, 64]
blocks:
  dense_layer:
    body:
      - batchnorm2d
      - relu
      - {{name: new, conv2d: {{channels: 8, kernel: 3, padding: same}}}}
      - {{concat: {{}}, inputs: [input, new]}}
layers:
  - {{repeat: {layers // 4}, name: dense, body: dense_layer}}
"""


def main(quick: bool = False) -> dict[str, float]:
    from archspec.backends.graphviz import diagram_dot
    from archspec.backends.volumes import volume_svg
    from archspec.graph.lower import analyse

    repeats = 2 if quick else 5
    graphs = {}
    with tempfile.TemporaryDirectory() as directory:
        for layers in (SHORT, LONG):
            path = Path(directory) / f"dense{layers}.yaml"
            path.write_text(dense_spec(layers))
            graphs[layers] = analyse(str(path))
    ratios: dict[str, float] = {}
    for label, options in (("", {}), (" --expand", {"expand": True})):
        times = {layers: best_time(lambda graph=graph, options=options: volume_svg(graph, **options), repeats)
                 for layers, graph in graphs.items()}
        dot = best_time(lambda options=options: diagram_dot(graphs[SHORT], **options), repeats)
        print(f"   dense{label}: volumes SVG {SHORT} layers {times[SHORT] * 1e3:.0f} ms, {LONG} layers "
              f"{times[LONG] * 1e3:.0f} ms; DOT source {SHORT} layers {dot * 1e3:.0f} ms")
        ratios[f"{SHORT}-layer{label} volumes SVG / DOT source"] = times[SHORT] / dot
        ratios[f"{LONG} / {SHORT} layers,{label} volumes SVG"] = times[LONG] / times[SHORT]
    return ratios


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
