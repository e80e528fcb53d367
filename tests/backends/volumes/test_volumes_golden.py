"""Golden SVGs: the volume figures of the case-study networks, compared byte for byte.

After an intended change to the figures, regenerate them with one command:

    .venv/bin/pytest tests/backends/volumes/test_volumes_golden.py --update-golden

then review the diff of ``tests/data/golden/volumes/`` like any other change, and look at the
figures (open the SVGs in a browser, or ``archspec render NAME --style volumes -o NAME.png``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.volumes import volume_svg
from archspec.graph.lower import analyse

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden" / "volumes"
CASES = ("lenet5", "alexnet_paper", "vgg16", "resnet50")


@pytest.mark.parametrize("name", CASES)
def test_svg_matches_golden_file(name, golden):
    golden(f"volumes/{name}.svg", volume_svg(analyse(name)))


def test_every_golden_file_has_a_case():
    assert {path.stem for path in GOLDEN.glob("*.svg")} <= set(CASES)
