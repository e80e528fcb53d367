"""Helpers for the integration tests: small doc sites and specs in a temporary folder."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent
LENET = (REPO / "specs" / "lenet5.yaml").read_text(encoding="utf-8")


def tool(name: str) -> str:
    """A console script of this virtual environment (mkdocs, sphinx-build, archspec)."""
    return shutil.which(name, path=str(BIN)) or shutil.which(name) or name


@pytest.fixture
def lenet_copy(tmp_path: Path) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(LENET, encoding="utf-8")
    return path
