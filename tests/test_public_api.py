"""The public API, ``archspec/__init__.py``: declared once, every name resolvable, nothing heavy on import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import archspec


def type_checking_imports() -> dict[str, str]:
    """name -> module, as the ``if TYPE_CHECKING:`` block of ``archspec/__init__.py`` imports it."""
    tree = ast.parse(Path(archspec.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    return {alias.asname or alias.name: statement.module or ""
            for statement in block.body if isinstance(statement, ast.ImportFrom) for alias in statement.names}


def test_all_is_the_declaration() -> None:
    assert archspec.__all__ == ["__version__", *archspec._PUBLIC]
    assert len(set(archspec.__all__)) == len(archspec.__all__)


def test_type_checkers_see_what_is_declared() -> None:
    """The TYPE_CHECKING block repeats ``_PUBLIC`` for type checkers: same names, same modules."""
    assert type_checking_imports() == archspec._PUBLIC


@pytest.mark.parametrize("name", sorted(archspec._PUBLIC))
def test_every_name_resolves_to_its_module(name: str) -> None:
    value = getattr(archspec, name)
    assert value is getattr(importlib.import_module(archspec._PUBLIC[name]), name)


def test_what_the_docs_name_for_op_authors_is_exported() -> None:
    from archspec.ops.base import require_rank
    from archspec.ops.context import OnnxContext

    assert archspec.OnnxContext is OnnxContext and archspec.require_rank is require_rank
    with pytest.raises(archspec.ShapeError, match="expects an image tensor"):
        archspec.require_rank("conv2d", [(10,)], 3, "an image")


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = archspec.nonexistent  # type: ignore[attr-defined]
    assert "analyse" in dir(archspec) and "OnnxContext" in dir(archspec)


def test_import_is_light_and_op_names_need_no_backend() -> None:
    program = ("import sys, archspec; archspec.OnnxContext; archspec.require_rank; archspec.Op; "
               "heavy = [m for m in ('torch', 'onnx', 'graphviz', 'archspec.backends') if m in sys.modules]; "
               "print(heavy)")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_import_onnx_is_public_and_loads_onnx_only_when_called() -> None:
    program = "import sys, archspec; archspec.import_onnx; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"  # reading an ONNX file needs no torch
