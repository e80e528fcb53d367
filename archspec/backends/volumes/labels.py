"""What a volume figure writes: an op as the case-study figures name it, a tensor as H×W×C.

The figures put the op on the arrow between two volumes with only its key hyperparameters, the
output channels being on the volume itself: ``conv 5×5`` over ``s=1``, ``max pool`` over
``f=3, s=2``, ``FC``.  Ops without an entry here (activations drawn alone with ``--expand``,
a plugin's ops) are written with the label the IR gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from archspec.graph.ir import Graph, Node
from archspec.ops.base import Shape, pair
from archspec.ops.conv import Conv2dParams
from archspec.ops.pool import PoolParams

OpText = tuple[str, ...]
"""A title (drawn above the arrow) and detail lines (below it)."""


def op_text(graph: Graph, node: Node) -> OpText:
    """How the op of ``node`` is written on the arrow into its output."""
    describe = _DESCRIBERS.get(node.op)
    if describe is None or node.params is None:
        return (node.label,)
    inputs = [graph.node(source).output_shape for source in node.inputs]
    return describe(node, inputs)


def _pair_text(name: str, value: int | tuple[int, int]) -> str:
    first, second = pair(value)
    return f"{name}={first}" if first == second else f"{name}={first}×{second}"


def _conv(node: Node, inputs: Sequence[Shape]) -> OpText:
    params = node.params
    assert isinstance(params, Conv2dParams)
    kernel_h, kernel_w = pair(params.kernel)
    stride = pair(params.stride)
    details = [_pair_text("s", stride)]
    if params.padding not in (0, (0, 0), "valid"):
        _, height, width = inputs[0]
        keeps_size = node.output_shape[1:] == (-(-height // stride[0]), -(-width // stride[1]))
        details.append("same" if keeps_size else _padding_text(params.padding))
    if pair(params.dilation) != (1, 1):
        details.append(_pair_text("d", params.dilation))
    if params.groups > 1:
        details.append(f"{params.groups} groups")
    return (f"conv {kernel_h}×{kernel_w}", ", ".join(details))


def _padding_text(padding: int | tuple[int, int] | str) -> str:
    return padding if isinstance(padding, str) else _pair_text("p", padding)


def _pool(title: str) -> Callable[[Node, Sequence[Shape]], OpText]:
    def describe(node: Node, inputs: Sequence[Shape]) -> OpText:
        params = node.params
        assert isinstance(params, PoolParams)
        details = [_pair_text("f", params.kernel), _pair_text("s", params.strides())]
        if pair(params.padding) != (0, 0):
            details.append(_pair_text("p", params.padding))
        return (title, ", ".join(details))

    return describe


def _adaptive_pool(node: Node, inputs: Sequence[Shape]) -> OpText:
    return ("adaptive avg pool", f"to {node.output_shape[1]}×{node.output_shape[2]}")


_DESCRIBERS: dict[str, Callable[[Node, Sequence[Shape]], OpText]] = {
    "conv2d": _conv,
    "maxpool2d": _pool("max pool"),
    "avgpool2d": _pool("avg pool"),
    "adaptive_avgpool2d": _adaptive_pool,
    "global_avgpool": lambda node, inputs: ("global avg pool",),
    "linear": lambda node, inputs: ("FC",),
    "flatten": lambda node, inputs: ("flatten",),
}
