"""The worked example plugin (examples/plugin, package archspec_extra_ops) must be installed for these
tests, as ``make setup`` and CI install it: they exercise the real entry point."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType

import pytest

from archspec import unregister_op
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "plugin"
SE_RESNET = EXAMPLE / "se_resnet.yaml"
SHUFFLENET = EXAMPLE / "shufflenet_unit.yaml"
PLUGIN = "archspec_extra_ops"


def example_installed() -> bool:
    return any(entry.name == PLUGIN for entry in entry_points(group="archspec.ops"))


@pytest.fixture(scope="session", autouse=True)
def installed_example() -> None:
    if not example_installed():
        pytest.fail("the example plugin is not installed: run make setup (or pip install -e examples/plugin)")


@pytest.fixture(scope="module")
def extra_ops() -> Iterator[ModuleType]:
    """The example plugin's ops registered for a module's tests (as its entry point does), removed after,
    so that the other tests in this process see the built-in language."""
    import archspec_extra_ops

    archspec_extra_ops.register()
    yield archspec_extra_ops
    for op in archspec_extra_ops.OPS:
        unregister_op(op.kind)
