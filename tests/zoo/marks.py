"""Which built-in specs the default test run covers in full, and which only under ``pytest -m zoo``.

Building, running and exporting the large zoo models takes minutes each on two cores (vit_h_14 at 518 has
633M parameters), so the default run checks their static figures only, and one model per family end to end.
"""

from __future__ import annotations

from typing import Any

import pytest

ZOO_ONLY = frozenset({
    "vit_b_16", "vit_l_16", "vit_l_32", "vit_h_14",
    "convnext_small", "convnext_base", "convnext_large",
    "swin_s", "swin_b", "swin_v2_s", "swin_v2_b",
})
"""Run end to end (built, ported, exported) only under ``-m zoo``."""


def spec_param(name: str, *, large: bool = False) -> Any:
    """``name`` as a pytest parameter: marked ``zoo`` if it is run only with the whole zoo, else ``slow`` if large."""
    if name in ZOO_ONLY:
        return pytest.param(name, marks=pytest.mark.zoo)
    return pytest.param(name, marks=pytest.mark.slow) if large else name
