"""archspec_extra_ops: three layer kinds the built-in spec language cannot express.

    squeeze_excite    squeeze-and-excitation (SENet, MobileNetV3)
    h_swish         hard-swish activation (MobileNetV3)
    shuffle_channels   channel shuffle (ShuffleNet); deliberately without an ONNX lowering

Importing the package registers them, which is how archspec finds them three ways: through the
``archspec.ops`` entry point this package declares (archspec imports it before it reads a spec), with
``archspec --plugin archspec_extra_ops``, or by ``import archspec_extra_ops`` in your own code
before ``archspec.load``/``build``.  Importing it does not import torch; the layers in
:mod:`archspec_extra_ops.layers` do, and need nothing else.
"""

from __future__ import annotations

from archspec import register_op
from archspec_extra_ops.ops import OPS, ChannelShuffle, HardSwish, SqueezeExcite


# --8<-- [start:register]
def register() -> None:
    """Register the package's ops (again, if they were unregistered; registering twice is harmless)."""
    for op in OPS:
        register_op(op)


register()
# --8<-- [end:register]

__all__ = ["OPS", "ChannelShuffle", "HardSwish", "SqueezeExcite", "register"]
