"""Refusing work that would not fit: a spec's parameters are checked against a memory limit
before any tensor is allocated.  The static commands (validate, summary, render) never allocate
and are not limited.
"""

from __future__ import annotations

import os
import re

from archspec.errors import SpecError, UsageError
from archspec.graph.ir import Graph

LIMIT_ENVIRONMENT_VARIABLE = "ARCHSPEC_MEMORY_LIMIT"
DEFAULT_SHARE_OF_MEMORY = 0.5
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def parse_size(text: str, what: str = "memory size") -> int:
    """``4GB``, ``512MiB``, ``1e9`` -> bytes."""
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise UsageError(f"invalid {what} '{text}' (use e.g. 4GB, 512MiB or a number of bytes)")
    try:
        return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    except (ValueError, OverflowError):
        raise UsageError(f"invalid {what} '{text}' (use e.g. 4GB, 512MiB or a number of bytes)") from None


def memory_limit(explicit: str | int | None = None) -> int:
    """The limit in bytes: an explicit value (bytes, or a size such as ``8GB``), else
    $ARCHSPEC_MEMORY_LIMIT, else half the machine's memory."""
    if isinstance(explicit, int):
        return explicit
    if explicit:
        return parse_size(explicit, "memory limit")
    text = os.environ.get(LIMIT_ENVIRONMENT_VARIABLE)
    if text:
        return parse_size(text, f"${LIMIT_ENVIRONMENT_VARIABLE}")
    return int(physical_memory_bytes() * DEFAULT_SHARE_OF_MEMORY)


def format_size(value: float) -> str:
    """``12.64 GB``, ``246.82 KB``: decimal units, the largest that keeps the number at least 1."""
    for unit in ("TB", "GB", "MB", "KB"):
        if value >= _UNITS[unit]:
            return f"{value / _UNITS[unit]:,.2f} {unit}"
    return f"{value:,.0f} bytes"


def check_parameter_memory(graph: Graph, limit: str | int | None = None, bytes_per_value: int = 4) -> None:
    """Raise SpecError if the graph's parameters would need more than ``limit`` (see :func:`memory_limit`)."""
    limit = memory_limit(limit)
    needed = graph.parameters * bytes_per_value
    if needed > limit:
        raise SpecError.at(
            f"{graph.name} has {graph.parameters:,} parameters ({format_size(needed)} in float32), more than "
            f"the memory limit of {format_size(limit)}; nothing was allocated",
            hint=f"raise the limit with --memory-limit or ${LIMIT_ENVIRONMENT_VARIABLE} (e.g. 64GB), "
                 "or use a smaller spec; validate, summary and render still work on it",
        )
