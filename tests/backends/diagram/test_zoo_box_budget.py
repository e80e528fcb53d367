"""Every zoo model's default diagram stays readable: its repeated structure folds into a few boxes."""

from __future__ import annotations

import pytest

from archspec.backends.diagram.view import diagram_view
from archspec.graph.lower import analyse
from archspec.spec.builtin import zoo_spec_names

BOX_BUDGET = 85
"""About 80: googlenet, whose nine inception modules all differ, draws 83."""


@pytest.mark.parametrize("name", zoo_spec_names())
def test_default_diagram_fits_the_box_budget(name: str) -> None:
    view = diagram_view(analyse(name))
    assert len(view.boxes) <= BOX_BUDGET, f"{name} draws {len(view.boxes)} boxes"
