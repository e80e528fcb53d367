"""Reshapes that move positions, read by replaying them on arrays of indices.

A chain of ``reshape``, ``permute`` and ``transpose`` calls that no op takes (MaxViT's window partition:
reshape, permute, reshape) moves each element of its input somewhere.  Replayed on an array that holds
each element's own flat index, the chain shows where: each value of the result is the index of the
input element now in its place.  From that array the importer reads whether the chain only reordered
axes (a ``permute``), or kept one axis whole as the last and rearranged the rest: the tensor is then a
channels-last image whose positions are grouped otherwise, which ops computed position by position do
not notice.  numpy only: nothing here runs the source's code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from archspec.ops.base import TENSOR, Shape, TorchCall

REARRANGING = frozenset({"reshape", "view", "permute", "transpose", "swapaxes", "swapdims", "flatten",
                         "unflatten", "movedim"})
"""The functions :func:`replay` knows: each only moves elements."""


def indices(shape: Sequence[int], batch: int) -> np.ndarray:
    """Each element's flat index, for a batch of ``batch`` samples of ``shape``."""
    return np.arange(batch * math.prod(shape)).reshape(batch, *shape)


def replay(index: np.ndarray, call: TorchCall) -> np.ndarray | None:
    """``index`` moved as ``call`` moves its tensor (batch axis included), or None if the call does more."""
    if call.function not in REARRANGING or call.module is not None or call.arguments[:1] != (TENSOR,):
        return None
    rest = list(call.arguments[1:])
    keywords = dict(call.keywords)
    try:
        if call.function in ("reshape", "view"):
            return index.reshape(_sizes(rest or [keywords["shape"]]))
        if call.function == "permute":
            return index.transpose(_sizes(rest or [keywords["dims"]]))
        if call.function in ("transpose", "swapaxes", "swapdims"):
            first, second = (*rest, *keywords.values())
            return np.swapaxes(index, int(first), int(second))
        if call.function == "movedim":
            source, destination = (*rest, *keywords.values())
            return np.moveaxis(index, source, destination)
        if call.function == "flatten":
            start, end = _axes(index.ndim, rest, keywords, ("start_dim", 0), ("end_dim", -1))
            return index.reshape(*index.shape[:start], -1, *index.shape[end + 1:])
        axis, sizes = (*rest, *keywords.values())  # unflatten
        axis = int(axis) % index.ndim
        return index.reshape(*index.shape[:axis], *_sizes([sizes]), *index.shape[axis + 1:])
    except (ValueError, TypeError, KeyError, IndexError):  # numpy's AxisError is both of the first and last
        return None


def _sizes(values: Sequence[Any]) -> list[int]:
    """``(2, 3)`` or ``([2, 3],)``, as a call passes sizes or axes, as one list of ints."""
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = values[0]
    if any(isinstance(value, bool) or not isinstance(value, int) for value in values):
        raise TypeError("not sizes")
    return [int(value) for value in values]


def _axes(rank: int, rest: list[Any], keywords: dict[str, Any], *named: tuple[str, int]) -> list[int]:
    values = [rest[i] if i < len(rest) else keywords.get(name, default) for i, (name, default) in enumerate(named)]
    return [int(value) % rank for value in values]


def per_sample(index: np.ndarray, batch: int) -> np.ndarray | None:
    """The first sample's indices (into one sample) if the batch axis stayed first and whole, else None."""
    if index.ndim < 2 or index.shape[0] != batch:
        return None
    size = index[0].size
    steps = np.arange(batch).reshape(batch, *([1] * (index.ndim - 1))) * size
    return index[0] if np.array_equal(index - steps, np.broadcast_to(index[0], index.shape)) else None


def axis_order(index: np.ndarray, shape: Shape) -> tuple[int, ...] | None:
    """The order of ``shape``'s axes that ``index`` (one sample) is, if it only reorders them: a ``permute``."""
    if index.ndim != len(shape) or sorted(index.shape) != sorted(shape):
        return None
    order = tuple(_axis_walked(index, shape, axis) for axis in range(index.ndim))
    found = tuple(axis for axis in order if axis is not None)
    if sorted(found) != list(range(len(shape))):
        return None
    return found if np.array_equal(index, np.arange(index.size).reshape(shape).transpose(found)) else None


def last_axis(index: np.ndarray, shape: Shape) -> int | None:
    """The axis of ``shape`` that ``index``'s last axis runs along, whole and in order, if one does."""
    axis = _axis_walked(index, shape, index.ndim - 1)
    if axis is None:
        return None
    stride = math.prod(shape[axis + 1:])
    expected = index[..., :1] + stride * np.arange(shape[axis])
    return axis if np.array_equal(index, expected) else None


def _axis_walked(index: np.ndarray, shape: Shape, axis: int) -> int | None:
    """The axis of ``shape`` of ``index.shape[axis]`` elements whose stride one step along ``axis`` takes."""
    size = index.shape[axis]
    if size == 1:
        candidates = [k for k, n in enumerate(shape) if n == 1]
        return candidates[-1] if candidates else None
    step = int(np.take(index, 1, axis=axis).flat[0] - np.take(index, 0, axis=axis).flat[0])
    for k, n in enumerate(shape):
        if n == size and math.prod(shape[k + 1:]) == step:
            return k
    return None


def channels_last(shape: Shape, axis: int) -> tuple[int, ...]:
    """The order of ``shape``'s axes that moves ``axis`` last and keeps the others."""
    return (*(k for k in range(len(shape)) if k != axis), axis)


def positions(index: np.ndarray, shape: Shape, axis: int) -> np.ndarray:
    """Where each position of ``index`` (whose last axis walks ``shape``'s ``axis``) is among the positions of
    the image ``shape`` with that axis moved last: flat indices, row-major."""
    coordinates = np.unravel_index(index[..., 0], shape)
    others = [k for k in range(len(shape)) if k != axis]
    return np.ravel_multi_index(tuple(coordinates[k] for k in others), tuple(shape[k] for k in others))


def elements(places: np.ndarray, channels: int, batch: int) -> np.ndarray:
    """The flat element indices, batch axis first, of a batch of channels-last images whose positions are ``places``,
    ``channels`` per position."""
    one = places[..., None] * channels + np.arange(channels)
    return np.stack([one + sample * places.size * channels for sample in range(batch)])
