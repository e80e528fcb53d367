"""The PyTorch layers of the extra ops: plain ``nn.Module`` classes that need only torch.

archspec never calls these directly: each op's ``torch_layer`` names a class here by its dotted
path, and the network source archspec generates (``archspec compile --py``) imports it, so the
generated file runs wherever this package is installed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# --8<-- [start:SqueezeExcite]
class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): rescale each channel by a gate computed from all of them.

    Global average pool -> 1×1 conv down to ``hidden`` channels -> ReLU -> 1×1 conv back up ->
    sigmoid (or hard sigmoid) -> multiply the input channel by channel.  The convolutions are
    named ``reduce`` and ``expand``, so the state_dict holds ``<layer>.reduce.weight`` etc.
    """

    def __init__(self, channels: int, hidden: int, gate: str = "sigmoid") -> None:
        super().__init__()
        if gate not in ("sigmoid", "hard_sigmoid"):
            raise ValueError(f"gate must be 'sigmoid' or 'hard_sigmoid', got {gate!r}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1)
        self.relu = nn.ReLU()
        self.expand = nn.Conv2d(hidden, channels, kernel_size=1)
        self.gate = nn.Sigmoid() if gate == "sigmoid" else nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.gate(self.expand(self.relu(self.reduce(self.pool(x)))))
        return x * scale
# --8<-- [end:SqueezeExcite]


class HardSwish(nn.Module):
    """Hard-swish (Howard et al. 2019, MobileNetV3): ``x * relu6(x + 3) / 6``, a cheap swish."""

    def forward(self, x: Tensor) -> Tensor:
        return x * F.relu6(x + 3.0) / 6.0


class ChannelShuffle(nn.Module):
    """Channel shuffle (Zhang et al. 2018, ShuffleNet): interleave the channels of ``groups`` groups.

    Channels ``[a0 a1 b0 b1]`` with 2 groups become ``[a0 b0 a1 b1]``, so that the next grouped
    convolution sees channels from every group of the previous one.
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        grouped = x.reshape(batch, self.groups, channels // self.groups, height, width)
        return torch.transpose(grouped, 1, 2).reshape(batch, channels, height, width)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
