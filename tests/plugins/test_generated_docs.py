"""The generated reference documents archspec itself: plugin ops loaded in this Python stay out of it."""

from __future__ import annotations

import importlib.util

import pytest

from archspec.ops.registry import registered_ops
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("extra_ops")


def test_the_spec_reference_and_schema_are_built_from_builtin_ops_only() -> None:
    assert "squeeze_excite" in registered_ops()
    spec = importlib.util.spec_from_file_location("gen_docs_under_test", REPO / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    gen_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_docs)
    reference, schema = gen_docs.spec_reference(), gen_docs.schema_json()
    assert "squeeze_excite" not in reference and "squeeze_excite" not in schema
    assert reference == (REPO / "docs" / "reference" / "spec.md").read_text(encoding="utf-8")
    assert schema == (REPO / "docs" / "schema" / "archspec.schema.json").read_text(encoding="utf-8")
