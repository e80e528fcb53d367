"""Checkpoints in: a state_dict file read as untrusted input, then mapped onto a spec's module.

A checkpoint is someone else's file.  It is read without running any of its code: ``torch.load``
with ``weights_only=True`` (plain tensors and containers only, never arbitrary pickled objects)
for ``.pt``/``.pth``/``.bin``, and a reader of our own for ``.safetensors`` (a JSON header and raw
bytes, checked before a tensor is made).  A file that is not a state_dict is refused with what it
holds, never with its content; its size is checked against the memory limit before it is read.

Mapping is by name when the checkpoint's keys are the module's own, otherwise by order with a
shape check on every tensor (:func:`~archspec.backends.torch.weights.port_weights`), as another
implementation of the same network (torchvision's, a paper's) declares its layers in the same
order under other names.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from archspec.backends.torch.weights import (
    BATCH_COUNTER,
    PortedTensor,
    PortReport,
    WeightPortError,
    load_mapped,
    port_weights,
)
from archspec.errors import ArchspecError, UsageError
from archspec.resources import format_size, memory_limit

if TYPE_CHECKING:
    import torch

WeightsMap = Literal["auto", "name", "order"]

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
NESTED_KEYS = ("state_dict", "model_state_dict", "model")
"""Where training scripts commonly put the state_dict inside a larger checkpoint."""

_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
}
_MAX_HEADER = 100 * 2**20


class CheckpointError(ArchspecError):
    """A weights file that cannot be read as a state_dict, or does not fit the module."""


def load_state_dict(path: str | Path, limit: str | int | None = None) -> dict[str, torch.Tensor]:
    """Read a state_dict file (``.pt``/``.pth``/``.bin``/``.ckpt`` or ``.safetensors``) without running its code.

    ``limit`` is the memory limit (see :func:`archspec.resources.memory_limit`): a file larger than it
    is refused before it is read.  A checkpoint that holds its state_dict under ``state_dict``,
    ``model_state_dict`` or ``model`` (beside an optimizer's state, say) gives that entry.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: no such weights file")
    suffix = file.suffix.lower()
    if suffix not in (*TORCH_SUFFIXES, SAFETENSORS_SUFFIX):
        raise CheckpointError(f"{file}: not a weights file (expected {', '.join(TORCH_SUFFIXES)} or .safetensors)")
    size = file.stat().st_size
    allowed = memory_limit(limit)
    if size > allowed:
        raise CheckpointError(f"{file} is {format_size(size)}, more than the memory limit of {format_size(allowed)}; "
                              "nothing was read (raise it with --memory-limit or $ARCHSPEC_MEMORY_LIMIT)")
    if suffix == SAFETENSORS_SUFFIX:
        return _read_safetensors(file)
    return _state_dict_of(file, _read_torch(file))


def _read_torch(file: Path) -> Any:
    import pickle

    import torch

    try:
        return torch.load(file, map_location="cpu", weights_only=True, mmap=_is_zip(file))
    except pickle.UnpicklingError:
        raise CheckpointError(f"{file}: holds Python objects other than tensors and plain containers; it was not "
                              "loaded, since unpickling them could run code (save the state_dict itself: "
                              "torch.save(model.state_dict(), path))") from None
    except Exception:  # any other failure means the bytes are not a checkpoint
        raise CheckpointError(f"{file}: not a PyTorch checkpoint (torch.load could not read it)") from None


def _is_zip(file: Path) -> bool:
    with file.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _state_dict_of(file: Path, loaded: Any) -> dict[str, torch.Tensor]:
    import torch

    if not isinstance(loaded, Mapping):
        raise CheckpointError(f"{file}: holds a {type(loaded).__name__}, not a state_dict (a mapping of names to "
                              "tensors)")
    if loaded and not any(isinstance(value, torch.Tensor) for value in loaded.values()):
        for key in NESTED_KEYS:
            if isinstance(loaded.get(key), Mapping):
                return _state_dict_of(file, loaded[key])
        keys = ", ".join(repr(str(key)) for key in list(loaded)[:5])
        raise CheckpointError(f"{file}: not a state_dict: it holds {len(loaded)} entries ({keys}"
                              f"{', ...' if len(loaded) > 5 else ''}) and none is a tensor")
    state: dict[str, torch.Tensor] = {}
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{file}: not a state_dict: entry {str(key)!r} is a {type(value).__name__}, "
                                  "not a tensor")
        state[key] = value
    if not state:
        raise CheckpointError(f"{file}: an empty state_dict")
    return state


def _read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    """The safetensors layout: 8 bytes of little-endian header length, a JSON header, then the raw data."""
    import torch

    size = file.stat().st_size
    with file.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{file}: not a safetensors file (too short)")
        (header_length,) = struct.unpack("<Q", prefix)
        if header_length > min(_MAX_HEADER, size - 8):
            raise CheckpointError(f"{file}: not a safetensors file (its header length is out of range)")
        try:
            header = json.loads(handle.read(header_length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CheckpointError(f"{file}: not a safetensors file (its header is not JSON)") from None
        if not isinstance(header, dict):
            raise CheckpointError(f"{file}: not a safetensors file (its header is not a JSON object)")
        header.pop("__metadata__", None)
        data_size = size - 8 - header_length
        buffer = bytearray(data_size)
        handle.readinto(buffer)
    state: dict[str, torch.Tensor] = {}
    for name, entry in header.items():
        dtype, shape, begin, end = _safetensors_entry(file, name, entry, data_size)
        tensor = torch.frombuffer(buffer, dtype=dtype, count=math.prod(shape), offset=begin) if end > begin \
            else torch.empty(0, dtype=dtype)
        state[name] = tensor.reshape(shape)
    if not state:
        raise CheckpointError(f"{file}: an empty state_dict")
    return state


def _safetensors_entry(file: Path, name: str, entry: Any, data_size: int) -> tuple[torch.dtype, list[int], int, int]:
    import torch

    problem = f"{file}: not a safetensors file (entry {name!r} is malformed)"
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise CheckpointError(problem)
    dtype_name = _SAFETENSORS_DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    if dtype_name is None:
        raise CheckpointError(f"{file}: entry {name!r} has a dtype archspec does not read ({entry['dtype']!r})")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets) or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise CheckpointError(problem)
    dtype = getattr(torch, dtype_name)
    itemsize = torch.empty(0, dtype=dtype).element_size()
    if math.prod(shape) * itemsize != offsets[1] - offsets[0]:
        raise CheckpointError(problem)
    return dtype, shape, offsets[0], offsets[1]


def load_weights(module: torch.nn.Module, weights: str | Path | Mapping[str, Any], by: WeightsMap = "auto",
                 limit: str | int | None = None) -> PortReport:
    """Put a checkpoint's tensors into ``module``: by name when the keys are the module's, else by order.

    ``weights`` is a file (see :func:`load_state_dict`) or a state_dict.  ``by`` forces ``"name"``
    or ``"order"``.  Every tensor's shape is checked; on a mismatch nothing of the module is changed
    and :class:`WeightPortError` names both tensors and both shapes.
    """
    state = load_state_dict(weights, limit) if isinstance(weights, (str, Path)) else dict(weights)
    if by not in ("auto", "name", "order"):
        raise UsageError(f"unknown weights mapping {by!r}: use 'name' or 'order'")
    if by == "order" or (by == "auto" and not _keys_match(module, state)):
        return port_weights(module, state)
    return _load_by_name(module, state)


def _keys_match(module: torch.nn.Module, state: Mapping[str, Any]) -> bool:
    own = {name for name in module.state_dict() if not name.endswith(BATCH_COUNTER)}
    given = {name for name in state if not name.endswith(BATCH_COUNTER)}
    return own == given


def _load_by_name(module: torch.nn.Module, state: Mapping[str, Any]) -> PortReport:
    import torch

    target = module.state_dict()
    missing = [name for name in target if name not in state and not name.endswith(BATCH_COUNTER)]
    unexpected = [name for name in state if name not in target]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"the module's {_names(missing)} {'is' if len(missing) == 1 else 'are'} not in the weights")
        if unexpected:
            parts.append(f"the weights' {_names(unexpected)} {'is' if len(unexpected) == 1 else 'are'} not in the "
                         "module")
        raise WeightPortError("the weights' names are not the module's: " + "; ".join(parts)
                              + " (use --weights-map order to map tensors by position instead)")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightPortError(f"weights entry '{name}' is a {type(value).__name__}, not a tensor")
        if tuple(value.shape) != tuple(target[name].shape):
            raise WeightPortError(f"the module's '{name}' has shape {list(target[name].shape)} but the weights' "
                                  f"'{name}' has shape {list(value.shape)}")
    skipped = tuple(name for name in target if name not in state)
    load_mapped(module, state, target)
    ported = tuple(PortedTensor(name, name, tuple(state[name].shape)) for name in target if name in state)
    return PortReport(ported, skipped, by="name")


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


__all__ = ["CheckpointError", "WeightsMap", "load_state_dict", "load_weights"]
