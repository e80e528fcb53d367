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


def learned_parameter(shape: tuple[int, ...], batch_axis: bool = True, fill: float = 0.0,
                      std: float | None = None) -> nn.Parameter:
    """A learned tensor held by the module that uses it (``self.class_token``), as torchvision holds ViT's class
    token and ConvNeXt's layer scale: its state_dict key is the layer's name, with no ``.weight``."""
    weight = torch.empty((1, *shape) if batch_axis else tuple(shape))
    with torch.no_grad():
        if std is None:
            weight.fill_(fill)
        else:
            nn.init.normal_(weight, fill, std)
    return nn.Parameter(weight)


class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channels of a ``[N, C, H, W]`` image at each position (torchvision's LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows of a channels-last image, with a learned bias per relative position.

    Swin's (shifted) window attention: the image ``[N, H, W, C]`` is padded to whole windows, rolled back by
    ``shift`` (so windows straddle the previous layer's borders), cut into ``window × window`` windows that
    attend within themselves (positions that were not neighbours before the roll are masked), and put back.
    Tensors keep torchvision's names and order: ``relative_position_bias_table``, ``relative_position_index``,
    ``qkv``, ``proj``.
    """

    def __init__(self, dim: int, heads: int, window: tuple[int, int], shift: tuple[int, int],
                 attention_dropout: float = 0.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.window = tuple(window)
        self.shift = tuple(shift)
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        wh, ww = self.window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(self.window))

    def reset_parameters(self) -> None:
        """As at construction (``qkv`` and ``proj`` reset themselves): what sharded initialization calls."""
        with torch.no_grad():
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
            index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
            index.copy_(relative_position_index(self.window))

    def position_bias(self) -> torch.Tensor:
        tokens = self.window[0] * self.window[1]
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index].view(tokens, tokens, -1)
        return bias.permute(2, 0, 1).unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return window_attention(x, self.qkv, self.proj, self.position_bias(), self.heads, self.window, self.shift,
                                self.attention_dropout if self.training else 0.0,
                                self.dropout if self.training else 0.0)


def relative_position_index(window: tuple[int, ...]) -> torch.Tensor:
    """For each pair of positions in a window, the row of the bias table for their offset (row-major offsets)."""
    wh, ww = window
    rows, cols = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    dr = rows[:, None] - rows[None, :] + wh - 1
    dc = cols[:, None] - cols[None, :] + ww - 1
    return (dr * (2 * ww - 1) + dc).flatten()


def _shift_mask(height: int, width: int, window: tuple[int, int], shift: tuple[int, int],
                like: torch.Tensor) -> torch.Tensor:
    """-100 where two positions of a rolled window came from different regions of the image, else 0."""
    region = like.new_zeros((height, width))
    count = 0
    for rows in ((0, height - window[0]), (height - window[0], height - shift[0]), (height - shift[0], height)):
        for cols in ((0, width - window[1]), (width - window[1], width - shift[1]), (width - shift[1], width)):
            region[rows[0]:rows[1], cols[0]:cols[1]] = count
            count += 1
    region = region.view(height // window[0], window[0], width // window[1], window[1]).permute(0, 2, 1, 3)
    region = region.reshape(-1, window[0] * window[1])
    differs = region.unsqueeze(1) != region.unsqueeze(2)
    return torch.zeros_like(differs, dtype=like.dtype).masked_fill(differs, -100.0)


def window_attention(x: torch.Tensor, qkv: nn.Linear, proj: nn.Linear, bias: torch.Tensor, heads: int,
                     window: tuple[int, ...], shift: tuple[int, ...], attention_dropout: float,
                     dropout: float) -> torch.Tensor:
    batch, height, width, channels = x.shape
    wh, ww = window
    pad_bottom, pad_right = (wh - height % wh) % wh, (ww - width % ww) % ww
    x = nn.functional.pad(x, (0, 0, 0, pad_right, 0, pad_bottom))
    padded_h, padded_w = height + pad_bottom, width + pad_right
    sh = shift[0] if wh < padded_h else 0
    sw = shift[1] if ww < padded_w else 0
    if sh or sw:
        x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
    rows, cols = padded_h // wh, padded_w // ww
    windows = x.view(batch, rows, wh, cols, ww, channels).permute(0, 1, 3, 2, 4, 5)
    windows = windows.reshape(batch * rows * cols, wh * ww, channels)
    tokens = wh * ww
    q, k, v = qkv(windows).reshape(-1, tokens, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
    q = q * (channels // heads) ** -0.5
    scores = q.matmul(k.transpose(-2, -1)) + bias
    if sh or sw:
        mask = _shift_mask(padded_h, padded_w, (wh, ww), (sh, sw), x)
        scores = (scores.view(batch, rows * cols, heads, tokens, tokens) + mask.unsqueeze(1).unsqueeze(0))
        scores = scores.view(-1, heads, tokens, tokens)
    weights = nn.functional.dropout(scores.softmax(dim=-1), attention_dropout)
    out = weights.matmul(v).transpose(1, 2).reshape(-1, tokens, channels)
    out = nn.functional.dropout(proj(out), dropout)
    out = out.view(batch, rows, cols, wh, ww, channels).permute(0, 1, 3, 2, 4, 5)
    out = out.reshape(batch, padded_h, padded_w, channels)
    if sh or sw:
        out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
    return out[:, :height, :width, :].contiguous()



class PatchMerging(nn.Module):
    """Swin's downsampling: each 2×2 patch of a channels-last image into one position of 4× the channels (odd
    sizes padded with zeros; neighbours in the order (0, 0), (1, 0), (0, 1), (1, 1) as (row, column)), then a
    layer norm and a linear reduction (norm after the reduction in Swin v2).  Registered as torchvision's:
    ``reduction``, then ``norm``."""

    def __init__(self, dim: int, channels: int, norm_first: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.reduction = nn.Linear(4 * dim, channels, bias=False)
        self.norm = nn.LayerNorm(4 * dim if norm_first else channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-3], x.shape[-2]
        x = nn.functional.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                       x[..., 1::2, 1::2, :]], -1)
        if self.norm_first:
            return self.reduction(self.norm(x))
        return self.norm(self.reduction(x))
