"""PyTorch modules for the ops that ``torch.nn`` has no layer for (imported only when a network is
built).

Each is as small as the computation it names, and keeps its tensors under the names and shapes
torchvision gives them, so a ported state_dict lines up tensor by tensor."""

from __future__ import annotations

import math

import torch
from torch import nn


class Learned(nn.Module):
    """A learned tensor (class token, position embedding, layer scale), repeated over the batch of
    its input.

    The input is read only for its batch size.  ``batch_axis`` stores the tensor with a leading axis
    of 1, as torchvision's class token and position embedding are; without it the tensor has the
    per-sample shape."""

    def __init__(
        self,
        shape: tuple[int, ...],
        batch_axis: bool = True,
        fill: float = 0.0,
        std: float | None = None,
    ) -> None:
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


def learned_parameter(
    shape: tuple[int, ...], batch_axis: bool = True, fill: float = 0.0, std: float | None = None
) -> nn.Parameter:
    """A learned tensor held by the module that uses it (``self.class_token``), as torchvision holds
    ViT's class token and ConvNeXt's layer scale: its state_dict key is the layer's name, with no
    ``.weight``."""
    weight = torch.empty((1, *shape) if batch_axis else tuple(shape))
    with torch.no_grad():
        if std is None:
            weight.fill_(fill)
        else:
            nn.init.normal_(weight, fill, std)
    return nn.Parameter(weight)


class StochasticDepth(nn.Module):
    """Stochastic depth (drop path), row mode: in training each sample of the batch is zeroed with
    probability ``p`` and the others scaled by ``1 / (1 - p)``; the identity at inference. Draws its
    mask as torchvision's ``StochasticDepth(p, "row")`` does."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        if keep > 0.0:
            mask.div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channels of a ``[N, C, H, W]`` image at each position (torchvision's
    LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows of a channels-last image, with a learned bias per
    relative position.

    Swin's (shifted) window attention: the image ``[N, H, W, C]`` is padded to whole windows, rolled
    back by ``shift`` (so windows straddle the previous layer's borders), cut into ``window ×
    window`` windows that attend within themselves (positions that were not neighbours before the
    roll are masked), and put back. Tensors keep torchvision's names and order:
    ``relative_position_bias_table``, ``relative_position_index``, ``qkv``, ``proj``."""

    def __init__(
        self,
        dim: int,
        heads: int,
        window: tuple[int, int],
        shift: tuple[int, int],
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.window = tuple(window)
        self.shift = tuple(shift)
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        wh, ww = self.window
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(self.window))

    def reset_parameters(self) -> None:
        """As at construction (``qkv`` and ``proj`` reset themselves): what sharded initialization
        calls."""
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
        return window_attention(
            x,
            self.qkv,
            self.proj,
            self.position_bias(),
            self.heads,
            self.window,
            self.shift,
            self.attention_dropout if self.training else 0.0,
            self.dropout if self.training else 0.0,
        )


def relative_position_index(window: tuple[int, ...]) -> torch.Tensor:
    """For each pair of positions in a window, the row of the bias table for their offset (row-major
    offsets)."""
    wh, ww = window
    rows, cols = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    dr = rows[:, None] - rows[None, :] + wh - 1
    dc = cols[:, None] - cols[None, :] + ww - 1
    return (dr * (2 * ww - 1) + dc).flatten()


def _shift_mask(
    height: int, width: int, window: tuple[int, int], shift: tuple[int, int], like: torch.Tensor
) -> torch.Tensor:
    """-100 where two positions of a rolled window came from other regions of the image, else 0."""
    region = like.new_zeros((height, width))
    count = 0
    for rows in (
        (0, height - window[0]),
        (height - window[0], height - shift[0]),
        (height - shift[0], height),
    ):
        for cols in (
            (0, width - window[1]),
            (width - window[1], width - shift[1]),
            (width - shift[1], width),
        ):
            region[rows[0] : rows[1], cols[0] : cols[1]] = count
            count += 1
    region = region.view(height // window[0], window[0], width // window[1], window[1]).permute(
        0, 2, 1, 3
    )
    region = region.reshape(-1, window[0] * window[1])
    differs = region.unsqueeze(1) != region.unsqueeze(2)
    return torch.zeros_like(differs, dtype=like.dtype).masked_fill(differs, -100.0)


def window_attention(
    x: torch.Tensor,
    qkv: nn.Linear,
    proj: nn.Linear,
    bias: torch.Tensor,
    heads: int,
    window: tuple[int, ...],
    shift: tuple[int, ...],
    attention_dropout: float,
    dropout: float,
    qkv_bias: torch.Tensor | None = None,
    cosine_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Attention within (shifted) windows: ``qkv_bias`` replaces the ``qkv`` layer's bias; with
    ``cosine_scale`` (per head) the scores are cosine similarities times it (Swin v2), else scaled
    dot products."""
    batch, height, width, channels = x.shape
    wh, ww = window
    pad_bottom, pad_right = (wh - height % wh) % wh, (ww - width % ww) % ww
    x = nn.functional.pad(x, (0, 0, 0, pad_right, 0, pad_bottom))
    padded_h, padded_w = height + pad_bottom, width + pad_right
    sh = shift[0] if wh < padded_h else 0
    sw = shift[1] if ww < padded_w else 0
    if sh or sw:
        x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
    windows = partition(x, (wh, ww), grid=False)
    tokens = wh * ww
    projected = (
        qkv(windows) if qkv_bias is None else nn.functional.linear(windows, qkv.weight, qkv_bias)
    )
    q, k, v = projected.reshape(-1, tokens, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
    if cosine_scale is None:
        q = q * (channels // heads) ** -0.5
    else:
        q = nn.functional.normalize(q, dim=-1) * cosine_scale
        k = nn.functional.normalize(k, dim=-1)
    if sh or sw:  # one bias per window: [batch * windows, heads, tokens, tokens]
        bias = (bias + _shift_mask(padded_h, padded_w, (wh, ww), (sh, sw), x).unsqueeze(1)).repeat(
            batch, 1, 1, 1
        )
    out = nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=bias, dropout_p=attention_dropout, scale=1.0
    )
    out = out.transpose(1, 2).reshape(-1, tokens, channels)
    out = departition(
        nn.functional.dropout(proj(out), dropout),
        (batch, padded_h, padded_w, channels),
        (wh, ww),
        grid=False,
    )
    if sh or sw:
        out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
    return out[:, :height, :width, :].contiguous()


def partition(x: torch.Tensor, size: tuple[int, ...], grid: bool) -> torch.Tensor:
    """``[N, H, W, C]`` -> ``[N * groups, sh * sw, C]``: groups of ``sh × sw`` positions, in
    row-major order.

    A group is a window of neighbours, or with ``grid`` the positions ``H / sh`` rows and ``W / sw``
    columns apart (one from each window): MaxViT's block and grid partitions."""
    batch, height, width, channels = x.shape
    sh, sw = size
    if grid:
        x = x.view(batch, sh, height // sh, sw, width // sw, channels).permute(0, 2, 4, 1, 3, 5)
    else:
        x = x.view(batch, height // sh, sh, width // sw, sw, channels).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, sh * sw, channels)


def departition(
    x: torch.Tensor, image: tuple[int, int, int, int], size: tuple[int, ...], grid: bool
) -> torch.Tensor:
    """The inverse of :func:`partition`: the groups back into the image ``[N, H, W, C]``
    (``image``)."""
    batch, height, width, channels = image
    sh, sw = size
    x = x.view(batch, height // sh, width // sw, sh, sw, channels)
    x = x.permute(0, 3, 1, 4, 2, 5) if grid else x.permute(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, height, width, channels)


class PartitionAttention(nn.Module):
    """Multi-head self-attention within groups of a channels-last image, with a learned bias per
    relative position.

    MaxViT's block and grid attention: the image ``[N, H, W, C]`` is cut into groups of ``sh × sw``
    positions (a window of neighbours, or with ``grid`` a grid spread over the whole image, see
    :func:`partition`), each group attends within itself, and the positions are put back.  The
    products of queries and keys are multiplied by ``scale`` (default ``1 / sqrt(C / heads)``).
    Tensors keep torchvision's names and order: ``relative_position_bias_table``,
    ``relative_position_index`` (a ``[T, T]`` buffer), ``to_qkv``, ``merge``."""

    def __init__(
        self,
        dim: int,
        heads: int,
        size: tuple[int, int],
        grid: bool = False,
        scale: float | None = None,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.size = tuple(size)
        self.grid = grid
        self.scale = scale if scale is not None else (dim // heads) ** -0.5
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.to_qkv = nn.Linear(dim, 3 * dim)
        self.merge = nn.Linear(dim, dim)
        sh, sw = self.size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * sh - 1) * (2 * sw - 1), heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        tokens = sh * sw
        self.register_buffer(
            "relative_position_index", relative_position_index(self.size).view(tokens, tokens)
        )

    def reset_parameters(self) -> None:
        """As at construction (``to_qkv`` and ``merge`` reset themselves): what sharded
        initialization calls."""
        with torch.no_grad():
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
            index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
            index.copy_(relative_position_index(self.size).view_as(index))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, channels = x.shape
        groups = partition(x, self.size, self.grid)
        tokens = groups.shape[1]
        q, k, v = (
            self.to_qkv(groups)
            .view(-1, tokens, 3, self.heads, channels // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index].permute(2, 0, 1).unsqueeze(0)
        out = nn.functional.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.attention_dropout if self.training else 0.0,
            scale=self.scale,
        )
        out = self.merge(out.transpose(1, 2).reshape(-1, tokens, channels))
        out = nn.functional.dropout(out, self.dropout, self.training)
        return departition(out, (batch, height, width, channels), self.size, self.grid)


class WindowAttentionV2(nn.Module):
    """Swin v2's window attention: scaled cosine attention and a continuous relative position bias.

    Windows, shifts and masks as :class:`WindowAttention`.  Scores are cosine similarities of
    queries and keys times a learned per-head scale (clamped to at most 100), plus a bias that a
    small MLP (``cpb_mlp``) computes from log-spaced relative offsets (``relative_coords_table``)
    and squashes to (0, 16).  The keys' part of the ``qkv`` bias is held at zero.  Tensors keep
    torchvision's names and order: ``logit_scale``, ``relative_coords_table``,
    ``relative_position_index``, ``qkv``, ``proj``, ``cpb_mlp``."""

    def __init__(
        self,
        dim: int,
        heads: int,
        window: tuple[int, int],
        shift: tuple[int, int],
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
        hidden: int = 512,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.window = tuple(window)
        self.shift = tuple(shift)
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("relative_coords_table", relative_coords_table(self.window))
        self.register_buffer("relative_position_index", relative_position_index(self.window))
        self.logit_scale = nn.Parameter(torch.empty(heads, 1, 1))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, heads, bias=False)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The scale at 10 and the keys' bias at 0 (the linear layers reset themselves first)."""
        with torch.no_grad():
            self.logit_scale.fill_(math.log(10.0))
            self.qkv.bias[self.qkv.bias.numel() // 3 : 2 * self.qkv.bias.numel() // 3].zero_()
            table: torch.Tensor = self.relative_coords_table  # type: ignore[assignment]
            table.copy_(relative_coords_table(self.window))
            index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
            index.copy_(relative_position_index(self.window))

    def position_bias(self) -> torch.Tensor:
        tokens = self.window[0] * self.window[1]
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.heads)
        bias = table[index].view(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)
        return 16 * torch.sigmoid(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        third = self.qkv.bias.numel() // 3
        bias = torch.cat(
            (
                self.qkv.bias[:third],
                torch.zeros_like(self.qkv.bias[third : 2 * third]),
                self.qkv.bias[2 * third :],
            )
        )
        scale = torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        return window_attention(
            x,
            self.qkv,
            self.proj,
            self.position_bias(),
            self.heads,
            self.window,
            self.shift,
            self.attention_dropout if self.training else 0.0,
            self.dropout if self.training else 0.0,
            qkv_bias=bias,
            cosine_scale=scale,
        )


def relative_coords_table(window: tuple[int, ...]) -> torch.Tensor:
    """``[1, 2wh-1, 2ww-1, 2]``: every (row, column) offset in a window, scaled to [-8, 8] and
    log-spaced."""
    wh, ww = window
    rows = torch.arange(-(wh - 1), wh, dtype=torch.float32) / max(wh - 1, 1)
    cols = torch.arange(-(ww - 1), ww, dtype=torch.float32) / max(ww - 1, 1)
    table = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).unsqueeze(0) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / 3.0


class PatchMerging(nn.Module):
    """Swin's downsampling: each 2×2 patch of a channels-last image into one position of 4× the
    channels (odd sizes padded with zeros; neighbours in the order (0, 0), (1, 0), (0, 1), (1, 1) as
    (row, column)), then a layer norm and a linear reduction (norm after the reduction in Swin v2).
    Registered as torchvision's: ``reduction``, then ``norm``."""

    def __init__(self, dim: int, channels: int, norm_first: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.reduction = nn.Linear(4 * dim, channels, bias=False)
        self.norm = nn.LayerNorm(4 * dim if norm_first else channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-3], x.shape[-2]
        x = nn.functional.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        x = torch.cat(
            [
                x[..., 0::2, 0::2, :],
                x[..., 1::2, 0::2, :],
                x[..., 0::2, 1::2, :],
                x[..., 1::2, 1::2, :],
            ],
            -1,
        )
        if self.norm_first:
            return self.reduction(self.norm(x))
        return self.norm(self.reduction(x))
