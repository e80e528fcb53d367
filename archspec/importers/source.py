"""``archspec import`` as one library call: read a source, write the spec (and weights), all or nothing.

The spec is checked before anything is written: it must load, and for a PyTorch source its built
module must take the source's ``state_dict`` strictly.  Both files are written atomically, the
weights first, so a failure leaves no half-written output.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archspec.errors import UsageError
from archspec.importers.flat import FlatModel
from archspec.io import atomic_output


def import_source(source: str, output: str | Path, input_shape: Sequence[int] | None = None, name: str = "",
                  weights: str | Path | None = None) -> int:
    """Write the spec of ``source`` to ``output`` (and its weights to ``weights``); return the spec's line count."""
    from archspec.importers.write import spec_state_dict, write_spec

    state: dict[str, Any] | None = None
    if source.endswith(".onnx"):
        model = _read_onnx(source, name)
    else:
        from archspec.importers.torch import load_source, read_torch

        if input_shape is None:
            raise UsageError("--input-shape is required for a PyTorch source (the input without the batch, "
                             "e.g. 3,224,224)")
        module = load_source(source)
        model = read_torch(module, input_shape, name)
        state = dict(module.state_dict())
    if state is None and weights is not None:
        state = spec_state_dict(model)
    text = write_spec(model, source)
    target = Path(output)
    with atomic_output(target, suffix=".yaml") as temporary:
        temporary.write_text(text, encoding="utf-8")
        if weights is not None:
            _write_weights(temporary, state or {}, Path(weights))
        else:
            from archspec.graph.lower import analyse

            analyse(str(temporary))
    return sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def _read_onnx(path: str, name: str) -> FlatModel:
    if importlib.util.find_spec("archspec.importers.onnx") is None:
        raise UsageError(f"cannot import '{path}': importing ONNX files is not supported yet")
    onnx_front_end = importlib.import_module("archspec.importers.onnx")
    model: FlatModel = onnx_front_end.read_onnx(path, name=name or None)
    return model


def _write_weights(spec: Path, state: dict[str, Any], weights: Path) -> None:
    """Build the spec, load the source's weights strictly, and save the module's state_dict."""
    import torch

    from archspec.api import build

    module = build(str(spec))
    module.load_state_dict({key: _tensor(value) for key, value in state.items()}, strict=True)
    with atomic_output(weights, suffix=".pt") as temporary:
        torch.save(module.state_dict(), temporary)


def _tensor(value: Any) -> Any:
    """A front end's tensor (torch, or numpy from an ONNX file) as a torch tensor of its own."""
    import numpy as np
    import torch

    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.array(value))
