"""PyTorch modules for the ops that ``torch.nn`` has no layer for (imported only when a network is built).

Each is as small as the computation it names, and keeps its tensors under the names and shapes
torchvision gives them, so a ported state_dict lines up tensor by tensor.
"""

from __future__ import annotations

import torch
from torch import nn


class Learned(nn.Module):
    """A learned tensor (class token, position embedding, layer scale), repeated over the batch of its input.

    The input is read only for its batch size.  ``batch_axis`` stores the tensor with a leading axis of 1,
    as torchvision's class token and position embedding are; without it the tensor has the per-sample shape.
    """

    def __init__(self, shape: tuple[int, ...], batch_axis: bool = True, fill: float = 0.0,
                 std: float | None = None) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.weight = nn.Parameter(torch.empty((1, *self.shape) if batch_axis else self.shape))
        self.fill = fill
        self.std = std
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.std is None:
                self.weight.fill_(self.fill)
            else:
                nn.init.normal_(self.weight, self.fill, self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight.expand(x.shape[0], *self.shape)


class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channels of a ``[N, C, H, W]`` image at each position (torchvision's LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
