"""An op whose definition contradicts itself: its shape rule says the channels double, but the module
its torch_layer builds keeps them.  Building a network that uses it fails, naming this class."""

from __future__ import annotations

from collections.abc import Sequence

from archspec_extra_ops.ops import SqueezeExcite, SqueezeExciteParams

from archspec import register_op
from archspec.ops.base import Shape


class WideSqueezeExcite(SqueezeExcite):
    kind = "wide_squeeze_excite"

    def output_shape(self, params: SqueezeExciteParams, inputs: Sequence[Shape]) -> Shape:
        channels, height, width = super().output_shape(params, inputs)
        return (2 * channels, height, width)  # wrong: SqueezeExcite keeps the channels


register_op(WideSqueezeExcite)
