"""A shape error's hint comes from its structured reason, not from its message's text."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from archspec.errors import SpecError
from archspec.graph.lower import analyse
from archspec.graph.lower.nodes import SHAPE_HINTS
from archspec.ops.base import Op, OpParams, Shape, ShapeError
from archspec.ops.registry import register_op, unregister_op


class _TooSmall(Op[OpParams]):
    kind = "test_too_small"
    Params = OpParams
    description = "always refuses its input, with a message that names no window"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        raise ShapeError("this input will not do", reason="input_too_small")


class _Mismatch(Op[OpParams]):
    kind = "test_mismatch"
    Params = OpParams
    description = "refuses its input with the words of a window error, but no reason"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        raise ShapeError("pooling window 9 is larger than the padded input height 1")


@pytest.fixture
def ops():
    register_op(_TooSmall())
    register_op(_Mismatch())
    yield
    unregister_op("test_too_small")
    unregister_op("test_mismatch")


def _diagnostic(write_spec, kind: str):
    path = write_spec(f"archspec: 1\nname: n\ninput: [3, 8, 8]\nlayers:\n  - {kind}\n")
    with pytest.raises(SpecError) as caught:
        analyse(str(path))
    (diagnostic,) = caught.value.diagnostics
    return diagnostic


def test_the_reason_chooses_the_hint(ops, write_spec):
    assert _diagnostic(write_spec, "test_too_small").hint == SHAPE_HINTS["input_too_small"]


def test_the_message_text_does_not(ops, write_spec):
    diagnostic = _diagnostic(write_spec, "test_mismatch")
    assert "larger than the padded input" in diagnostic.message
    assert diagnostic.hint is None


def test_a_shape_error_has_no_reason_unless_given():
    assert ShapeError("x").reason == "other"
