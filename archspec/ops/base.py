"""What an op is: one class that says everything about a layer kind.

An op definition holds, in one place: the pydantic model of its parameters, its shape rule,
its parameter and multiply-accumulate counts, its diagram label and how it becomes a PyTorch
layer (and, optionally, ONNX nodes).  The built-in ops are defined with exactly this API; a
user's own op is a subclass registered with :func:`archspec.register_op`.

Shapes never include the batch dimension: ``(C, H, W)`` for images, ``(F,)`` for features.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode

Shape = tuple[int, ...]

MAX_SIZE = 1 << 24
"""The largest channel count, kernel, stride or feature size a spec may ask for."""


ShapeErrorReason = Literal["input_too_small", "other"]
"""Why a shape rule refused its inputs, for archspec's hints: ``input_too_small`` when a window
(kernel, pooling) does not fit the padded input."""


class ShapeError(Exception):
    """Raised by a shape rule when its inputs do not fit; the message is for a person.

    archspec adds the layer's name, its location in the spec and the input shapes, and a hint
    chosen by ``reason`` (never by the message's text).
    """

    def __init__(self, message: str, reason: ShapeErrorReason = "other"):
        super().__init__(message)
        self.reason: ShapeErrorReason = reason


class OpParams(BaseModel):
    """Base of every op's parameter model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _reject_non_numbers(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number")
    return value


Size = Annotated[StrictInt, Field(ge=1, le=MAX_SIZE)]
"""A positive size: channels, features, kernel, stride."""
Count = Annotated[StrictInt, Field(ge=0, le=MAX_SIZE)]
"""A non-negative size: padding."""
SizePair = Size | tuple[Size, Size]
CountPair = Count | tuple[Count, Count]
Padding = Count | tuple[Count, Count] | Literal["same", "valid"]
Number = Annotated[float, BeforeValidator(_reject_non_numbers)]
Probability = Annotated[float, BeforeValidator(_reject_non_numbers), Field(ge=0.0, le=1.0)]
Flag = StrictBool


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def pair_text(name: str, value: int | tuple[int, int]) -> str:
    """``s=2`` for a square pair, ``s=2×1`` otherwise: how volume figures write a hyperparameter."""
    first, second = pair(value)
    return f"{name}={first}" if first == second else f"{name}={first}×{second}"


def format_shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def volume(shape: Sequence[int]) -> int:
    return math.prod(shape)


@dataclass(frozen=True)
class TorchLayer:
    """How an op becomes a PyTorch layer, as data, so it can be both built and written as source.

    ``factory`` is the dotted import path of an ``nn.Module`` class (``torch.nn.Conv2d``, or
    ``my_plugin.layers.SqueezeExcite`` for a user's op); ``args`` and ``kwargs`` are plain
    Python literals.  ``forward`` is a format string for the call in ``forward()``, where
    ``{module}`` is the layer and ``{0}``, ``{1}``... its inputs; most layers keep the default.
    """

    factory: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    forward: str = "{module}({0})"


@dataclass(frozen=True)
class TorchCall:
    """A call seen while importing a PyTorch model (``archspec import``), offered to each op.

    Either a module call (``module`` is the ``nn.Module``) or a function call: ``function`` is the
    function's plain name with in-place and operator spellings folded (``torch.add``, ``x + y``,
    ``x += y`` and ``x.add_(y)`` are all ``add``; ``F.relu`` and ``x.relu()`` are ``relu``).
    ``arguments`` and ``keywords`` are the call's own, with each tensor input replaced by
    :data:`TENSOR`; ``input_shapes`` are those inputs' shapes without the batch axis.
    """

    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    module: Any = None
    function: str = ""
    arguments: tuple[Any, ...] = ()
    keywords: Mapping[str, Any] = field(default_factory=dict)
    output_index: int | None = None
    """For a function that returns several tensors (``x.chunk(2, dim=1)``): which of them this call is about."""
    chain: tuple[TorchCall, ...] = ()
    """Function calls no op took that led from the traced input to this one, first first (ShuffleNet's
    ``view``, ``transpose`` before the ``view`` back): ``input_shapes`` are then the chain's input's."""
    positions: Any = field(default=None, compare=False)
    """For a call on a tensor whose positions reshapes moved (MaxViT's window and grid partitions): which
    position of the image each of its positions is, an integer array of the tensor's shape without the batch
    and the last (channel) axis, each value a flat index into the image's positions (row-major).
    ``input_shapes`` and ``output_shape`` are then the image's, channels last.  None for other calls."""


TENSOR = "<tensor>"
"""What stands for a tensor input in :attr:`TorchCall.arguments`."""


def plain_call(call: TorchCall, allowed: Sequence[str] = ("inplace",)) -> bool:
    """A function call whose only non-tensor arguments are keywords in ``allowed`` (``inplace``)."""
    return all(argument == TENSOR for argument in call.arguments) and set(call.keywords) <= set(allowed)


def unpair(value: Any) -> Any:
    """A torch size as a spec writes it: ``(3, 3)`` as ``3``, ``(1, 2)`` as ``[1, 2]``."""
    if isinstance(value, (tuple, list)):
        values = [int(v) for v in value]
        return values[0] if len(set(values)) == 1 else values
    return value


ParamsT = TypeVar("ParamsT", bound=BaseModel)


DEFAULT_LAYOUTS = {1: "F", 2: "LD", 3: "CHW"}
"""How a tensor of each rank is read unless an op moved its axes: features, tokens, a channels-first image."""


def default_layout(rank: int) -> str:
    """``F``, ``LD`` or ``CHW`` by rank (see :data:`DEFAULT_LAYOUTS`); ``""`` for other ranks."""
    return DEFAULT_LAYOUTS.get(rank, "")


class Op(Generic[ParamsT]):
    """Base class of every layer kind.  Subclass it, set the class attributes, override the rules.

    Class attributes:
        kind: the key used in specs (``conv2d``).
        Params: the pydantic model of the parameters (subclass :class:`OpParams`).
        shorthand: the parameter a scalar value sets (``{conv2d: 64}`` sets ``channels``);
            ``"inputs"`` for joins, whose list value names their inputs.
        min_inputs, max_inputs: how many inputs the op takes (``max_inputs=None``: any number).
        family: the colour group in diagrams (conv, pool, linear, norm, activation, join, ...).
        name_prefix: the stem of automatic layer names (``conv`` gives ``conv1``, ``conv2``).
        description: one line for ``archspec list --ops`` and the docs.
        owns_output: the output is a fresh tensor that the op's backward pass does not keep
            (convolutions, linear layers, batch norm, pools, joins), so the op after it may
            overwrite it in place.  Leave it False when unsure: that is always correct.
        torch_inplace_layer: the op's PyTorch layer takes ``inplace=True`` and then overwrites its
            input (``nn.ReLU``); archspec passes it where the input is an ``owns_output`` tensor
            of the same module that nothing else reads, as torchvision writes ReLU.
        torch_inplace_operator: for an op written as an expression (a join, no layer) of two
            inputs: the augmented assignment that accumulates the second input into the first
            under the same conditions (``"+="`` for ``add``, which writes ``out += shortcut``).
    """

    kind: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = OpParams
    shorthand: ClassVar[str | None] = None
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    family: ClassVar[str] = "other"
    name_prefix: ClassVar[str] = ""
    description: ClassVar[str] = ""
    owns_output: ClassVar[bool] = False
    torch_inplace_layer: ClassVar[bool] = False
    torch_inplace_operator: ClassVar[str | None] = None
    torch_modules: ClassVar[tuple[str, ...]] = ()
    """For ``archspec import``: class names of the ``nn.Module`` s this op is, when it has no parameters."""
    torch_functions: ClassVar[tuple[str, ...]] = ()
    """For ``archspec import``: names of the functions (see :class:`TorchCall`) this op is, without parameters."""
    torch_chains: ClassVar[bool] = False
    """For ``archspec import``: :meth:`from_torch` reads :attr:`TorchCall.chain` (several calls that are one op);
    only such ops are offered a call that ends a chain."""
    torch_positions: ClassVar[bool] = False
    """For ``archspec import``: :meth:`from_torch` reads :attr:`TorchCall.positions` (positions that reshapes
    rearranged, as MaxViT's partitions), so it is offered calls on such tensors; see also :meth:`per_position`."""
    onnx_types: ClassVar[tuple[str, ...]] = ()
    """For ``archspec import`` of an ONNX file: the op types (default domain) whose nodes are offered to
    :meth:`from_onnx`.  For a pattern of several nodes, the type of the first node that is offered: an
    element-wise ``Mul``, ``Div``, ``Add`` or ``Sub`` with a constant operand never is (GELU's pattern is
    offered at its ``Erf`` and reaches back to its ``x / sqrt(2)``)."""

    # -- static analysis ------------------------------------------------------------------
    def output_shape(self, params: ParamsT, inputs: Sequence[Shape]) -> Shape:
        """The shape this op produces from these input shapes; raise ShapeError if they do not fit."""
        raise NotImplementedError(f"op '{self.kind}' defines no shape rule (output_shape)")

    def parameter_count(self, params: ParamsT, inputs: Sequence[Shape], output: Shape) -> int:
        """Trainable parameters (buffers such as batch-norm statistics are not parameters)."""
        return 0

    def macs(self, params: ParamsT, inputs: Sequence[Shape], output: Shape) -> int:
        """Multiply-accumulates for one sample; by convention only convolutions and linear layers count."""
        return 0

    def label(self, params: ParamsT, inputs: Sequence[Shape], output: Shape) -> str:
        """A short description for diagrams, such as ``conv 3×3/2, 128``."""
        return self.kind

    def output_layout(self, params: ParamsT, inputs: Sequence[str], output: Shape) -> str:
        """What the output's axes are, one letter each (``CHW``, ``HWC``, ``LD``, ``F``), from the inputs'
        layouts: by default the first input's where the rank is kept, else :func:`default_layout`.
        Only ops that move axes (``permute``) override it; diagrams use it to draw a channels-last image
        as the image it is."""
        if inputs and len(inputs[0]) == len(output):
            return inputs[0]
        return default_layout(len(output))

    def volume_label(self, params: ParamsT, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        """How a volume figure writes this op on the arrow into its output: a title (above the arrow)
        and detail lines (below it), in the case-study figures' words: ``("conv 5×5", "s=1")``,
        ``("max pool", "f=3, s=2")``, ``("FC",)``.  The output channels are on the volume itself.
        By default the diagram :meth:`label` alone."""
        return (self.label(params, inputs, output),)

    # -- backends -------------------------------------------------------------------------
    def torch_layer(self, params: ParamsT, inputs: Sequence[Shape], output: Shape) -> TorchLayer | None:
        """The PyTorch layer for this node, or None for ops written as an expression (joins)."""
        raise NotImplementedError(f"op '{self.kind}' has no PyTorch lowering (torch_layer)")

    def torch_expression(self, params: ParamsT, arguments: Sequence[str]) -> str:
        """For ops without a layer: Python source of the forward computation over ``arguments``."""
        raise NotImplementedError(f"op '{self.kind}' has no PyTorch expression (torch_expression)")

    def to_onnx(self, params: ParamsT, context: OnnxContext) -> None:
        """Emit this node's ONNX nodes; ops that cannot be expressed in ONNX leave it unimplemented."""
        raise NotImplementedError(
            f"op '{self.kind}' has no ONNX lowering; define {type(self).__name__}.to_onnx to add one"
        )

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """This op's parameters that reproduce a PyTorch module or function call, or None if it is not this op.

        ``archspec import`` offers every call to every op.  The default recognizes the names in
        :attr:`torch_modules` and :attr:`torch_functions` for an op without parameters.
        """
        if call.module is not None:
            return {} if type(call.module).__name__ in self.torch_modules else None
        return {} if call.function in self.torch_functions else None

    def per_position(self, params: ParamsT, inputs: Sequence[Shape]) -> bool:
        """Whether, on inputs of these shapes, each output position is computed from that position of the
        inputs alone, over the last axis (element-wise ops, joins, layers applied channels-last).
        ``archspec import`` then reads the op where reshapes have rearranged the positions of a channels-last
        image (MaxViT's windows and grids) as the same op on the image itself: the arrangement does not change
        what it computes."""
        return False

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """This op's parameters for an ONNX node of one of its :attr:`onnx_types`, or None if it is not this op.

        The inverse of :meth:`to_onnx` (and of what torch's exporters write for the same layer).  A
        pattern of several nodes absorbs the others (``node.absorb``), weights are given with
        ``node.weight``, a node that is no layer at inference returns ``node.pass_through()``; of the
        ops that accept a node, the one that absorbs most nodes wins (on a tie, the first registered:
        built-in ops before plugins').  Raise ValueError with a reason when the node is of this op's
        type but has something the op cannot express (``UnreadableNode`` when no op could read it as
        the file has it).  The default recognizes :attr:`onnx_types` for an op without parameters.
        """
        return {} if node.op_type in self.onnx_types else None

    @property
    def supports_onnx(self) -> bool:
        return type(self).to_onnx is not Op.to_onnx

    @property
    def prefix(self) -> str:
        return self.name_prefix or self.kind

    def __repr__(self) -> str:
        return f"<op {self.kind}>"


def require_rank(op: str, inputs: Sequence[Shape], rank: int, what: str) -> Shape:
    """The single input's shape, checked to be ``rank``-dimensional (an image or a feature vector)."""
    shape = inputs[0]
    if len(shape) != rank:
        if rank == 3:
            raise ShapeError(f"{op} expects an image tensor [C, H, W], got {what_shape(shape)}")
        raise ShapeError(f"{op} expects {what}, got {what_shape(shape)}")
    return shape


def what_shape(shape: Shape) -> str:
    if len(shape) == 1:
        return f"a flat tensor of {shape[0]} features"
    return f"a tensor of shape {format_shape(shape)}"
