"""Moving axes: ``permute`` (images to channels-last and back, feature maps to token sequences), and Swin's
``patch_merging`` (2×2 neighbours into channels)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from archspec.ops.base import (
    TENSOR,
    Count,
    Flag,
    Number,
    Op,
    OpParams,
    Shape,
    ShapeError,
    Size,
    TorchCall,
    TorchLayer,
    format_shape,
)

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class PermuteParams(OpParams):
    axes: Annotated[tuple[Count, ...], Field(min_length=1, max_length=8)]
    """The input's axes in their new order, batch excluded: [1, 2, 0] turns [C, H, W] into [H, W, C]."""


class Permute(Op[PermuteParams]):
    kind = "permute"
    Params = PermuteParams
    shorthand = "axes"
    family = "reshape"
    description = "reorder the axes of a sample: [1, 2, 0] makes an image channels-last, [2, 0, 1] undoes it"

    def output_shape(self, params: PermuteParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if sorted(params.axes) != list(range(len(shape))):
            raise ShapeError(f"permute: axes {list(params.axes)} are not an order of the {len(shape)} axes of "
                             f"{format_shape(shape)} (batch excluded: expected each of 0..{len(shape) - 1} once)")
        return tuple(shape[axis] for axis in params.axes)

    def label(self, params: PermuteParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"permute {format_shape(params.axes)}"

    def output_layout(self, params: PermuteParams, inputs: Sequence[str], output: Shape) -> str:
        layout = inputs[0] if inputs else ""
        return "".join(layout[axis] for axis in params.axes) if len(layout) == len(params.axes) else ""

    def torch_layer(self, params: PermuteParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer | None:
        return None

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """``x.permute(0, 2, 3, 1)``, ``torch.permute(x, [...])``, ``x.transpose(1, 2)`` and a module holding ``dims``
        (torchvision's ``Permute``): any order that keeps the batch axis first."""
        rank = len(call.input_shapes[0]) + 1 if call.input_shapes else 0
        if call.module is not None:
            dims = list(call.module.dims) if type(call.module).__name__ == "Permute" else None
        elif call.function == "permute":
            rest = [a for a in call.arguments if a != TENSOR] or [call.keywords.get("dims")]
            dims = list(rest[0]) if len(rest) == 1 and isinstance(rest[0], (list, tuple)) else rest
        elif call.function in ("transpose", "swapaxes") and len(call.arguments) == 3:
            first, second = (int(a) % rank for a in call.arguments[1:])
            dims = list(range(rank))
            dims[first], dims[second] = second, first
        else:
            return None
        if not rank:
            return {} if dims else None  # asked before the call: could this module be a layer
        dims = [int(d) % rank for d in dims] if dims else None
        if not dims or len(dims) != rank or dims[0] != 0:
            return None
        return {"axes": [d - 1 for d in dims[1:]]}

    def torch_expression(self, params: PermuteParams, arguments: Sequence[str]) -> str:
        return f"{arguments[0]}.permute({', '.join(str(axis) for axis in (0, *(a + 1 for a in params.axes)))})"

    def to_onnx(self, params: PermuteParams, context: OnnxContext) -> None:
        context.add_node("Transpose", context.inputs, {"perm": [0, *(axis + 1 for axis in params.axes)]},
                         output=context.output)

    onnx_types = ("Transpose",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        shape = node.input_shapes[0]
        perm = [int(axis) for axis in node.attributes.get("perm", range(len(shape), -1, -1))]
        if perm[0] != 0:
            raise ValueError("a transpose that moves the batch axis")
        return {"axes": [axis - 1 for axis in perm[1:]]}



class PatchMergingParams(OpParams):
    channels: Size | None = None
    """Output channels (default: twice the input's)."""
    norm_first: Flag = True
    """Layer norm over the 4C merged channels before the linear reduction (Swin); false: after it (Swin v2)."""
    eps: Number = Field(default=1e-5, gt=0)
    """The layer norm's epsilon."""


class PatchMerging(Op[PatchMergingParams]):
    kind = "patch_merging"
    Params = PatchMergingParams
    shorthand = "channels"
    family = "reshape"
    description = ("Swin's downsampling of a channels-last image [H, W, C]: each 2×2 patch into one position of 4C "
                   "channels (odd sizes padded), a layer norm and a linear reduction without bias")

    def output_shape(self, params: PatchMergingParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 3:
            raise ShapeError(f"patch_merging expects a channels-last image [H, W, C], got {format_shape(shape)}")
        height, width, channels = shape
        return (-(-height // 2), -(-width // 2), params.channels or 2 * channels)

    def parameter_count(self, params: PatchMergingParams, inputs: Sequence[Shape], output: Shape) -> int:
        merged = 4 * inputs[0][2]
        return merged * output[2] + 2 * (merged if params.norm_first else output[2])

    def macs(self, params: PatchMergingParams, inputs: Sequence[Shape], output: Shape) -> int:
        return output[0] * output[1] * 4 * inputs[0][2] * output[2]

    def label(self, params: PatchMergingParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"merge 2×2 patches, {output[2]}"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """A module named ``PatchMerging`` (Swin v1) or ``PatchMergingV2`` (norm after the reduction) holding
        ``reduction`` (a linear layer without bias) and ``norm`` (a layer norm), as torchvision's."""
        module = call.module
        if type(module).__name__ not in ("PatchMerging", "PatchMergingV2") or module.reduction.bias is not None:
            return None
        params: dict[str, Any] = {"channels": module.reduction.out_features, "eps": module.norm.eps}
        return {**params, "norm_first": False} if type(module).__name__ == "PatchMergingV2" else params

    def torch_layer(self, params: PatchMergingParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {}
        if not params.norm_first:
            kwargs["norm_first"] = False
        if params.eps != 1e-5:
            kwargs["eps"] = params.eps
        return TorchLayer("archspec.nn.PatchMerging", (inputs[0][2], output[2]), kwargs)

    def to_onnx(self, params: PatchMergingParams, context: OnnxContext) -> None:
        context.require_opset(17, "patch_merging (LayerNormalization)")
        height, width, _ = context.input_shapes[0]
        value = context.inputs[0]
        if height % 2 or width % 2:
            pads = context.constant("pads", [0, 0, 0, 0, 0, height % 2, width % 2, 0])
            value = context.add_node("Pad", [value, pads])
        parts = []
        for row, col in ((0, 0), (1, 0), (0, 1), (1, 1)):
            parts.append(context.add_node("Slice", [
                value, context.constant(f"start{row}{col}", [row, col]), context.constant("end", [1 << 30, 1 << 30]),
                context.constant("axes", [1, 2]), context.constant("steps", [2, 2])]))
        value = context.add_node("Concat", parts, {"axis": -1})
        norm = [context.weight("norm.weight"), context.weight("norm.bias")]
        attributes = {"axis": -1, "epsilon": float(params.eps)}
        reduction = context.add_node("Transpose", [context.weight("reduction.weight")], {"perm": [1, 0]})
        if params.norm_first:
            value = context.add_node("LayerNormalization", [value, *norm], attributes)
            context.add_node("MatMul", [value, reduction], output=context.output)
        else:
            value = context.add_node("MatMul", [value, reduction])
            context.add_node("LayerNormalization", [value, *norm], attributes, output=context.output)

    onnx_types = ("Pad", "Slice")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """The nodes :meth:`to_onnx` writes, by their names, order and weights; or torchvision's ``PatchMerging``
        as torch's exporters write it, from its ``Pad``
        (:func:`~archspec.ops.patch_merging_onnx.torch_patch_merging`)."""
        from archspec.ops.context import layer_state

        pattern = r"(Pad )?Slice Slice Slice Slice Concat (LayerNormalization MatMul |MatMul LayerNormalization )"
        weights = layer_state(node, pattern, ("reduction.weight", "norm.weight", "norm.bias"))
        if weights is None:
            if node.op_type != "Pad":
                return None
            from archspec.ops.patch_merging_onnx import torch_patch_merging

            return torch_patch_merging(node)
        types = [view.op_type for view in node.layer_nodes()]
        norm = node.layer_nodes()[types.index("LayerNormalization")]
        channels = int(weights["reduction.weight"].shape[0])
        params: dict[str, Any] = {} if channels == 2 * node.input_shapes[0][2] else {"channels": channels}
        eps = float(f"{float(norm.attributes.get('epsilon', 1e-5)):.7g}")
        if eps != 1e-5:
            params["eps"] = eps
        if types.index("LayerNormalization") > types.index("MatMul"):
            params["norm_first"] = False
        return params
