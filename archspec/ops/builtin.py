"""The built-in ops, in the order ``archspec list --ops`` and the docs show them."""

from archspec.ops.activation import (
    GELU,
    Dropout,
    HardSigmoid,
    HardSwish,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from archspec.ops.attention import MultiheadAttention, PartitionAttention, WindowAttention, WindowAttentionV2
from archspec.ops.base import Op
from archspec.ops.channels import ChannelShuffle, Chunk
from archspec.ops.conv import Conv2d
from archspec.ops.join import Add, Concat, Multiply
from archspec.ops.layer_norm import LayerNorm
from archspec.ops.linear import Flatten, Linear
from archspec.ops.norm import BatchNorm2d, LocalResponseNorm
from archspec.ops.pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool, MaxPool2d
from archspec.ops.regularization import StochasticDepth
from archspec.ops.reshape import PatchMerging, Permute
from archspec.ops.tokens import Learned, Select

BUILTIN_OPS: tuple[type[Op], ...] = (
    Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool, Linear, Flatten,
    BatchNorm2d, LocalResponseNorm, ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Softmax, Dropout, Identity,
    Add, Concat,
    # tensors of any rank: tokens, channels-last images, attention
    Multiply, LayerNorm, Permute, Learned, Select, MultiheadAttention,
    WindowAttention, WindowAttentionV2, PartitionAttention, PatchMerging,
    ReLU6, HardSwish, HardSigmoid, SiLU, Mish, StochasticDepth, Chunk, ChannelShuffle,
)
