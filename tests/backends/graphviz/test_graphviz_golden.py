"""DOT golden files: the diagrams of built-in specs, compared byte for byte.

After an intended change to the diagrams, regenerate every golden file with one command:

    .venv/bin/pytest tests/backends/graphviz/test_graphviz_golden.py --update-golden

then review the diff of ``tests/data/golden/dot/`` like any other change (render one with
``dot -Tsvg`` to look at it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archspec.backends.graphviz import diagram_dot
from archspec.graph.lower import analyse

TESTS = Path(__file__).resolve().parents[2]
GOLDEN = TESTS / "data" / "golden" / "dot"

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "lenet5": ("lenet5", {}),
    "alexnet_paper": ("alexnet_paper", {}),
    "vgg16": ("vgg16", {}),
    "nin": ("nin", {}),
    "resnet18": ("resnet18", {}),
    "resnet50": ("resnet50", {}),
    "resnet50_expanded": ("resnet50", {"expand": True}),
    "resnet152_depth1_lr_params": ("resnet152", {"depth": 1, "rankdir": "LR", "show_params": True}),
    "inception": (str(TESTS / "data" / "graphviz" / "inception.yaml"), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dot_matches_golden_file(case: str, golden) -> None:
    spec, options = CASES[case]
    golden(f"dot/{case}.dot", diagram_dot(analyse(spec), **options))


def test_every_golden_file_has_a_case() -> None:
    assert {path.stem for path in GOLDEN.glob("*.dot")} <= set(CASES)


def test_dot_is_identical_across_processes() -> None:
    """No dependence on hash order or anything else that changes between runs."""
    program = ("import sys; from archspec.graph.lower import analyse; from archspec.backends.graphviz import "
               "diagram_dot; sys.stdout.write(diagram_dot(analyse('resnet50'), depth=2))")
    outputs = [
        subprocess.run([sys.executable, "-c", program], check=True, capture_output=True, text=True,
                       encoding="utf-8", env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] == diagram_dot(analyse("resnet50"), depth=2)
