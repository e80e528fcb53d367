"""Layer kinds: one class per op, everything about it in one place, found through the registry."""

from archspec.ops.base import (
    MAX_SIZE,
    Count,
    CountPair,
    Flag,
    Number,
    Op,
    OpParams,
    Padding,
    Probability,
    Shape,
    ShapeError,
    Size,
    SizePair,
    TorchLayer,
    format_shape,
    pair,
    require_rank,
)
from archspec.ops.context import OnnxContext
from archspec.ops.registry import RegisteredOp, get_op, register_op, registered_ops, unregister_op

__all__ = [
    "MAX_SIZE", "Count", "CountPair", "Flag", "Number", "OnnxContext", "Op", "OpParams", "Padding", "Probability",
    "RegisteredOp", "Shape", "ShapeError", "Size", "SizePair", "TorchLayer", "format_shape", "get_op",
    "pair", "register_op", "registered_ops", "require_rank", "unregister_op",
]
