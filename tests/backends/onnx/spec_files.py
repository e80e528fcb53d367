"""Writing small specs for the ONNX tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from archspec.graph.ir import Graph
from archspec.graph.lower import analyse


def spec_graph(directory: Path, layers: Sequence[Any], input_shape: Sequence[int], name: str = "net") -> Graph:
    """Analyse a spec with these layers (YAML-shaped entries) and input, written to ``directory/name.yaml``."""
    document = {"archspec": 1, "name": name, "input": list(input_shape), "layers": list(layers)}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return analyse(str(path))
