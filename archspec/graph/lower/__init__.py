"""Lower a validated spec into the graph IR, inferring every node's shape as it is created.

One module per construct, in the order a reader meets them:

* :mod:`.state`: scopes, the names in them, the context of a body (variables, defaults);
* :mod:`.lowering`: the walk over bodies, each entry sent to its construct;
* :mod:`.names`: layer names, ``inputs:`` references, cycles;
* :mod:`.nodes`: op entries become nodes (parameters checked, shape inferred, op code guarded);
* :mod:`.blocks`, :mod:`.repeats`, :mod:`.residuals`: the three constructs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from archspec.errors import Diagnostic, SpecError
from archspec.graph.ir import Graph
from archspec.graph.lower.lowering import Lowering
from archspec.spec.loader import Spec, load_collecting


def analyse(
    spec: Spec | str,
    *,
    input_shape: Sequence[int] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Graph:
    """The analysed graph of a spec (a loaded Spec, a path or a built-in name).

    Every node carries its output shape, parameter count and MACs.  Raises SpecError with
    every problem found, each located in the spec.
    """
    collected: list[Diagnostic] = []
    if not isinstance(spec, Spec) or input_shape is not None or variables:
        shape = tuple(input_shape) if input_shape is not None else None
        spec = load_collecting(
            spec if not isinstance(spec, Spec) else spec.path, collected,
            variables=variables if not isinstance(spec, Spec) else {**spec.variables, **(variables or {})},
            input_shape=shape)
    if not collected:
        return Lowering(spec).run()
    try:  # the spec has schema errors: lower what can be lowered, to report the rest too
        Lowering(spec).run()
    except SpecError as exc:
        # A line that already has a schema error gets no follow-on errors from the lowering.
        reported = {(d.location.path, d.location.line) for d in collected if d.location}
        collected.extend(d for d in exc.diagnostics
                         if d.location is None or (d.location.path, d.location.line) not in reported)
    except Exception:
        # The schema errors already say why the data cannot be walked; a crash here is hidden from
        # users (they get those errors) but not from someone debugging archspec.
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
    raise SpecError(collected)


__all__ = ["analyse"]
