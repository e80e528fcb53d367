"""Weights in and out: porting a state_dict by order, writing one to a file.

Porting pairs tensors by position, not by name: another implementation of the same network
(torchvision's, a paper's code) declares its layers in the same order under different names.
Every pair is shape-checked; the first mismatch is reported with both names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError
from archspec.io import atomic_output

if TYPE_CHECKING:
    import torch

BATCH_COUNTER = "num_batches_tracked"


class WeightPortError(ArchspecError):
    """The source's tensors do not line up with the module's."""


@dataclass(frozen=True)
class PortedTensor:
    target: str
    source: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class PortReport:
    """What was copied where, in order."""

    ported: tuple[PortedTensor, ...]
    skipped: tuple[str, ...] = ()
    """Entries of the module left as they were (batch-norm counters the source does not have)."""
    by: str = "order"
    """How tensors were paired: ``"order"`` (by position) or ``"name"``."""

    @property
    def values(self) -> int:
        total = 0
        for entry in self.ported:
            count = 1
            for size in entry.shape:
                count *= size
            total += count
        return total

    def __str__(self) -> str:
        text = f"ported {len(self.ported)} tensors ({self.values:,} values) by {self.by}"
        if self.skipped:
            text += f"; kept {len(self.skipped)} entries the source lacks ({', '.join(self.skipped[:3])}"
            text += ", ...)" if len(self.skipped) > 3 else ")"
        return text

    def table(self) -> str:
        """One line per tensor: module name, source name, shape."""
        width = max((len(entry.target) for entry in self.ported), default=0)
        return "\n".join(f"{entry.target:<{width}}  <-  {entry.source}  {list(entry.shape)}" for entry in self.ported)


def port_weights(module: torch.nn.Module, source_state_dict: Mapping[str, Any] | torch.nn.Module) -> PortReport:
    """Copy a state_dict into ``module`` by order, checking every shape; raise WeightPortError on a mismatch.

    ``source_state_dict`` may also be a module.  If the source has no batch-norm
    ``num_batches_tracked`` counters (older checkpoints), the module's are kept.  A module built
    on the meta device receives the source's tensors themselves.
    """
    import torch

    source = source_state_dict.state_dict() if isinstance(source_state_dict, torch.nn.Module) else source_state_dict
    for name, value in source.items():
        if not isinstance(value, torch.Tensor):
            raise WeightPortError(f"source entry '{name}' is a {type(value).__name__}, not a tensor "
                                  "(pass the state_dict itself, e.g. checkpoint['state_dict'])")
    target = module.state_dict()
    skipped: tuple[str, ...] = ()
    if not any(name.endswith(BATCH_COUNTER) for name in source):
        skipped = tuple(name for name in target if name.endswith(BATCH_COUNTER))
    targets = [(name, tensor) for name, tensor in target.items() if name not in skipped]
    sources = list(source.items())
    ported: list[PortedTensor] = []
    for position, ((name, tensor), (source_name, value)) in enumerate(zip(targets, sources, strict=False)):
        if tuple(tensor.shape) != tuple(value.shape):
            raise WeightPortError(
                f"tensor {position + 1} of {len(targets)}: the module's '{name}' has shape {list(tensor.shape)} but "
                f"the source's '{source_name}' has shape {list(value.shape)}"
                + _context(targets, sources, position))
        ported.append(PortedTensor(name, source_name, tuple(tensor.shape)))
    if len(targets) != len(sources):
        position = min(len(targets), len(sources))
        extra = (f"the module's '{targets[position][0]}'" if len(targets) > len(sources)
                 else f"the source's '{sources[position][0]}'")
        raise WeightPortError(
            f"the module has {len(targets)} tensors and the source {len(sources)}: every tensor matched up to "
            f"{extra}, which has no counterpart" + _context(targets, sources, position))
    mapped = {name: value for (name, _), (_, value) in zip(targets, sources, strict=True)}
    load_mapped(module, mapped, target)
    return PortReport(tuple(ported), skipped)


def load_mapped(module: torch.nn.Module, mapped: Mapping[str, torch.Tensor],
                target: Mapping[str, torch.Tensor]) -> None:
    """Load shape-checked tensors into ``module``; entries of ``target`` missing from ``mapped`` keep their value.

    A module on the meta device receives the tensors themselves (converted to its dtypes), and the
    entries the source lacks (batch-norm counters) start at zero, so no tensor is left without storage.
    """
    import torch

    meta = any(tensor.is_meta for tensor in target.values())
    complete: dict[str, torch.Tensor] = {}
    for name, tensor in target.items():
        value = mapped.get(name)
        if value is None:
            value = torch.zeros_like(tensor, device="cpu") if tensor.is_meta else tensor
        elif meta and value.dtype != tensor.dtype:
            value = value.to(tensor.dtype)
        complete[name] = value
    with torch.no_grad():
        module.load_state_dict(complete, strict=True, assign=meta)


def _context(targets: list[tuple[str, Any]], sources: list[tuple[str, Any]], position: int) -> str:
    lines = []
    for index in range(max(0, position - 2), min(max(len(targets), len(sources)), position + 2)):
        left = f"{targets[index][0]} {list(targets[index][1].shape)}" if index < len(targets) else "(none)"
        right = f"{sources[index][0]} {list(sources[index][1].shape)}" if index < len(sources) else "(none)"
        marker = ">" if index == position else " "
        lines.append(f"  {marker} {index + 1:>4}  {left}  <-  {right}")
    return "\n" + "\n".join(lines)


def write_state_dict(module: torch.nn.Module, path: Path | str) -> Path:
    """Save the module's state_dict with ``torch.save``, atomically (nothing half-written on failure)."""
    import torch

    state = module.state_dict()
    if any(tensor.is_meta for tensor in state.values()):
        raise ArchspecError("the module was built on the meta device and has no weights to save")
    with atomic_output(path) as temporary:
        torch.save(state, temporary)
    return Path(path)
