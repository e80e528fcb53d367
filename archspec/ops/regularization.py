"""Stochastic depth (Huang et al. 2016): ``stochastic_depth``, the drop-path of EfficientNet, ConvNeXt, Swin.

At inference it is the identity.  In training it zeroes the whole sample (a row of the batch) with
probability ``p`` and scales the survivors by ``1 / (1 - p)``, as torchvision's ``StochasticDepth(mode="row")``.
torch.nn has no such module: the layer is :class:`archspec.nn.StochasticDepth`, which generated source
copies in (so it runs with torch alone).  Outside training it returns its input, so inference costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archspec.ops.base import Op, OpParams, Probability, Shape, TorchCall, TorchLayer

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext


class StochasticDepthParams(OpParams):
    p: Probability = 0.0
    """Probability of dropping a sample's whole branch during training."""


class StochasticDepth(Op[StochasticDepthParams]):
    kind = "stochastic_depth"
    Params = StochasticDepthParams
    shorthand = "p"
    family = "regularization"
    name_prefix = "drop_path"
    description = "drops a residual branch per sample in training (row-wise), identity at inference"

    def output_shape(self, params: StochasticDepthParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def label(self, params: StochasticDepthParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"drop path {params.p:g}"

    def per_position(self, params: StochasticDepthParams, inputs: Sequence[Shape]) -> bool:
        return True  # one draw per sample

    def torch_layer(self, params: StochasticDepthParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("archspec.nn.StochasticDepth", kwargs={"p": params.p})

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """A module named ``StochasticDepth`` that drops rows (torchvision's): its class and its ``p`` and ``mode``."""
        module = call.module
        if type(module).__name__ != "StochasticDepth" or getattr(module, "mode", "row") != "row":
            return None
        return {"p": float(module.p)}

    def to_onnx(self, params: StochasticDepthParams, context: OnnxContext) -> None:
        context.add_node("Identity", context.inputs, output=context.output)  # inference: no drop
