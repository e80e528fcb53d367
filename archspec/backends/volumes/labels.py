"""What a volume figure writes: an op as the case-study figures name it, a tensor as H×W×C.

The figures put the op on the arrow between two volumes with only its key hyperparameters, the
output channels being on the volume itself: ``conv 5×5`` over ``s=1``, ``max pool`` over
``f=3, s=2``, ``FC``.  Each op says how in its own ``volume_label`` (by default its diagram
label), so a plugin's op is written exactly like a built-in one.
"""

from __future__ import annotations

from archspec.errors import Diagnostic, SpecError
from archspec.graph.ir import Graph, Node

OpText = tuple[str, ...]
"""A title (drawn above the arrow) and detail lines (below it)."""


def op_text(graph: Graph, node: Node) -> OpText:
    """How the op of ``node`` is written on the arrow into its output."""
    if node.params is None:
        return (node.label,)
    op = node.definition
    inputs = [graph.node(source).output_shape for source in node.inputs]
    try:
        text = op.volume_label(node.params, inputs, node.output_shape)
    except Exception as exc:  # a user-defined op's bug
        raise SpecError(_fault(node, f"raised {type(exc).__name__}: {exc}")) from None
    if not (isinstance(text, tuple) and text and all(isinstance(line, str) for line in text)):
        raise SpecError(_fault(node, f"returned {text!r}, not a tuple of one or more strings"))
    return text


def _fault(node: Node, what: str) -> Diagnostic:
    op = node.definition
    origin = f"{type(op).__module__}.{type(op).__qualname__}"
    return Diagnostic(f"layer '{node.name}': the op's volume_label {what}", node.location,
                      notes=(f"this is a fault in the definition of op '{op.kind}' ({origin}), not in the spec",))
