"""The PyTorch front end of ``archspec import``: a module, run once, read into a :class:`FlatModel`.

The module runs on a random batch of two (two, so that an op that mixes the batch axis shows up).
Forward hooks keep the stack of module calls; a module that an op recognizes (its
:meth:`~archspec.ops.base.Op.from_torch`) is one layer and what runs inside it is not looked at.
Everywhere else a torch function mode sees each function call on a tensor, and offers it to the
ops the same way.  A call no op takes marks its result; the error comes only when that result is
used (so an unused side computation does not stop an import), and a tensor turned into a Python
value (``if x.sum() > 0``) is reported as data-dependent control flow.  Running the user's code is
the point: they named it.

Reshapes no op takes are followed (:mod:`archspec.importers.positions`): where they only reorder
axes they are a ``permute``; where they regroup the positions of a channels-last image (MaxViT's
windows), the layers after them that compute position by position are read on the image itself,
until reshapes put it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from archspec.errors import Diagnostic, SpecError
from archspec.importers import positions
from archspec.importers.flat import NETWORK_INPUT, FlatLayer, FlatModel
from archspec.importers.positions import REARRANGING
from archspec.ops.base import TENSOR, Op, Shape, ShapeError, TorchCall
from archspec.ops.registry import registered_ops

if TYPE_CHECKING:
    import torch

BATCH = 2
_CONTROL_FLOW = {"__bool__", "item", "tolist", "__int__", "__float__", "__index__", "nonzero", "__len__"}
_PASS_THROUGH = {"contiguous", "clone", "detach", "to", "float", "type_as"}
_HELP = "write the computation as an op of your own (see 'Writing your own op' in docs/custom-ops.md)"


class ImportFailure(SpecError):
    """A source that archspec cannot express: where (module path), what (module or function), what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(Diagnostic(message, None, hint=hint))


@dataclass
class _Call:
    path: tuple[str, ...]
    types: tuple[str, ...]
    layer: bool


@dataclass(frozen=True)
class _Pending:
    """A tensor that function calls no op took made from a traced one (see :attr:`TorchCall.chain`)."""

    origin: Any
    """The traced tensor the calls started from: a value, or an :class:`_Arranged` tensor."""
    chain: tuple[TorchCall, ...]
    scope: tuple[str, ...]
    """The innermost module path holding every call of the chain: where a layer read from it goes."""


@dataclass(frozen=True)
class _Arranged:
    """A tensor whose positions reshapes rearranged (MaxViT's windows): a channels-last image regrouped.

    Ops that compute position by position read it as the image itself, :attr:`value`; see
    :mod:`archspec.importers.positions`.
    """

    value: str
    """The layer whose output is the image, channels last."""
    places: np.ndarray
    """Which of the image's positions each of the tensor's positions is (see :attr:`TorchCall.positions`)."""
    grid: tuple[int, ...]
    """The image's shape without its channels."""
    scope: tuple[str, ...]
    """The innermost module path holding the calls that rearranged it: where the layer putting it back goes."""


@dataclass
class _Recording:
    ops: list[Op]
    paths: dict[int, tuple[str, ...]]
    stack: list[_Call] = field(default_factory=list)
    layers: list[FlatLayer] = field(default_factory=list)
    values: dict[int, str] = field(default_factory=dict)
    poisoned: dict[int, str] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)
    quiet: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)
    """id of a tensor no op made -> the traced tensor it came from and the calls since (see TorchCall.chain)."""
    arranged: dict[int, _Arranged] = field(default_factory=dict)
    """id of a tensor whose positions reshapes rearranged -> the channels-last image it holds."""
    types: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Module path -> class name, for every module (a ModuleList is never called, yet it is a scope)."""
    parameters: dict[int, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    """id of each parameter -> the path of the module holding it, and its attribute name."""
    last: str = NETWORK_INPUT
    """The latest value computed: what a learned tensor reads for the batch size."""
    training: bool = False
    """A training-mode run: dropout passes its input through as at inference."""

    @property
    def where(self) -> _Call:
        return self.stack[-1] if self.stack else _Call((), (), False)

    def traced(self, tensor: Any) -> bool:
        """Whether the tensor comes from the input: a value, a rearranged image, or a value no op made."""
        return id(tensor) in self.values or id(tensor) in self.arranged or id(tensor) in self.poisoned

    def place(self) -> str:
        call = self.where
        return f"'{'.'.join(call.path)}' ({call.types[-1]})" if call.path else "the model's own forward"


def read_torch(module: torch.nn.Module, input_shape: Sequence[int], name: str = "") -> FlatModel:
    """Run ``module`` once on a batch of random inputs of ``input_shape`` and read it as flat layers.

    The run computes shapes only (fake tensors, as ``torch.export`` does), which is all an import
    needs; a model that fake tensors cannot run is run for real.
    """
    registration = {tuple(path.split(".")) if path else (): tuple(name for name, _ in owner.named_children())
                    for path, owner in module.named_modules()}
    model = replace(_read_either(module, input_shape, name, training=False), registration=registration)
    unused = _unused(module, model)
    if not unused:
        return model
    import copy

    why = ""
    try:
        trained: FlatModel | None = _read_either(copy.deepcopy(module), input_shape, name, training=True)
    except Exception as exc:  # training mode cannot be read: report the weights inference leaves unused
        trained = None
        reason = exc.diagnostics[0].message if isinstance(exc, SpecError) else f"{type(exc).__name__}: {exc}"
        why = f"; in training mode, which might use them, the module fails: {reason.splitlines()[0]}"
    still = _unused(module, trained) if trained is not None else unused
    if trained is not None and len(trained.outputs) > 1 and not still:
        return replace(_restated(trained, module), registration=registration)
    unused = [owner for owner in unused if owner in still] or unused
    what = f"submodule '{unused[0]}' holds" if len(unused) == 1 else \
        f"submodules {', '.join(repr(owner) for owner in unused)} hold"
    raise ImportFailure(f"{what} weights that forward never uses, at inference or in training; a spec holds "
                        f"only the layers that run, so the weights would not load{why}",
                        hint="delete the unused submodules (or their weights from the state_dict) before importing")


def _read_either(module: torch.nn.Module, input_shape: Sequence[int], name: str, training: bool) -> FlatModel:
    try:
        return _read(module, input_shape, name, shapes_only=True, training=training)
    except SpecError:
        raise
    except Exception:  # a model fake tensors cannot run: run it for real
        return _read(module, input_shape, name, shapes_only=False, training=training)


def _state_keys(model: FlatModel) -> dict[str, Any]:
    return {".".join((*layer.scope, key) if key else layer.scope): tensor
            for layer in model.layers for key, tensor in layer.state.items()}


def _unused(module: torch.nn.Module, model: FlatModel) -> list[str]:
    """The submodules (outermost) whose tensors no layer of ``model`` holds."""
    held = set(_state_keys(model))
    keys = list(module.state_dict())
    missing = [key for key in keys if key not in held]

    def outermost(key: str) -> str:
        parts = key.split(".")[:-1] or [key]
        while len(parts) > 1 and not any(k.startswith(".".join(parts[:-1]) + ".") and k in held for k in keys):
            parts = parts[:-1]
        return ".".join(parts)

    return list(dict.fromkeys(outermost(key) for key in missing))


def _restated(model: FlatModel, source: torch.nn.Module) -> FlatModel:
    """The layers of a training-mode run (made on a copy, whose statistics it moved) holding the source's tensors."""
    original = source.state_dict(keep_vars=True)
    layers = tuple(replace(layer, state={key: original[".".join((*layer.scope, key) if key else layer.scope)]
                                         for key in layer.state}) for layer in model.layers)
    return replace(model, layers=layers)


def _read(module: torch.nn.Module, input_shape: Sequence[int], name: str, shapes_only: bool,
          training: bool = False) -> FlatModel:
    """One run, at inference or (``training``, to find the auxiliary heads only training runs) in training mode,
    where each tensor the module returns beyond the first is a training-only output."""
    import torch

    ops = [registered.op for registered in registered_ops().values()]
    paths = {id(m): tuple(p.split(".")) if p else () for p, m in reversed(list(module.named_modules()))}
    recording = _Recording(ops, paths, training=training)
    recording.types = {tuple(p.split(".")) if p else (): type(m).__name__ for p, m in module.named_modules()}
    for path, owner in module.named_modules():
        for attribute, parameter in owner.named_parameters(recurse=False):
            recording.parameters[id(parameter)] = (tuple(path.split(".")) if path else (), attribute)
    was_training = module.training
    module.train(training)
    try:
        with _shapes_only(shapes_only):
            example = torch.randn(BATCH, *input_shape)
            recording.values[id(example)] = NETWORK_INPUT
            recording.keep.append(example)
            with _hooks(module, recording), torch.no_grad(), _FunctionMode(recording):
                output = module(example)
    finally:
        module.train(was_training)
    model_name = name or _snake(type(module).__name__)
    shape = tuple(int(n) for n in input_shape)
    if training and isinstance(output, tuple) and len(output) > 1 and all(
            isinstance(part, torch.Tensor) for part in output):
        fields = getattr(output, "_fields", None) or [f"output{i}" for i in range(len(output))]
        return FlatModel(model_name, shape, tuple(recording.layers),
                         tuple(_source(recording, part) for part in output), tuple(fields))
    if not isinstance(output, torch.Tensor):
        raise ImportFailure(f"the model returns {type(output).__name__}, not one tensor",
                            hint="wrap it in a module whose forward returns the one output to import")
    return FlatModel(model_name, shape, tuple(recording.layers), (_source(recording, output),))


@contextmanager
def _shapes_only(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True):
        yield


@contextmanager
def _hooks(module: torch.nn.Module, recording: _Recording) -> Iterator[None]:
    handles = []
    for child in module.modules():
        if child is module:
            continue
        handles.append(child.register_forward_pre_hook(_before(recording), with_kwargs=True))
        handles.append(child.register_forward_hook(_after(recording), with_kwargs=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _before(recording: _Recording) -> Any:
    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        outer = recording.where
        if outer.layer:
            recording.stack.append(_Call(outer.path, outer.types, True))
            return
        path = recording.paths.get(id(module), (*outer.path, "?"))
        types = tuple(recording.types.get(path[: depth + 1], "") for depth in range(len(path)))
        recording.stack.append(_Call(path, types, False))
        tensors = _tensors(args) + _tensors(list(kwargs.values()))
        if tensors and all(recording.traced(t) for t in tensors):
            recording.stack[-1].layer = _module_layer_possible(recording, module)
    return hook


def _module_layer_possible(recording: _Recording, module: Any) -> bool:
    return any(_accepts(op, TorchCall((), (), module=module)) is not None for op in recording.ops)


def _accepts(op: Op, call: TorchCall) -> Mapping[str, Any] | None:
    try:
        return op.from_torch(call)
    except (AttributeError, TypeError, IndexError, KeyError):
        return None


def _after(recording: _Recording) -> Any:
    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
        call = recording.stack.pop()
        if not call.layer or (recording.stack and recording.stack[-1].layer):
            return None
        result = output[0] if isinstance(output, tuple) and output else output
        inputs = _tensors(args) + _tensors(list(kwargs.values()))
        shapes = tuple(tuple(t.shape[1:]) for t in inputs)
        torch_call = TorchCall(shapes, tuple(result.shape[1:]), module=module)
        recording.stack.append(call)
        try:
            _add_layer(recording, torch_call, inputs, result, call.path[-1] if call.path else "",
                       state=dict(module.state_dict(keep_vars=True)))  # no detach: no fake-tensor work
        finally:
            recording.stack.pop()
        return None
    return hook


def _add_layer(recording: _Recording, call: TorchCall, inputs: Sequence[Any], output: Any, name: str,
               state: Mapping[str, Any]) -> None:
    what = _what(call)
    reason = f"{what} in {recording.place()} has no archspec op"
    unique = _unique(inputs)
    single = unique[0] if call.module is None and len(unique) == 1 else None
    if single is not None and id(single) in recording.pending:
        if _add_chain(recording, call, single, output, name):
            return
        if call.function not in REARRANGING:
            _settle(recording, single, recording.where.path)
        if id(single) in recording.pending:  # a call on a tensor no op made is itself pending: no op reads it alone
            _pend(recording, call, single, output, reason)
            return
    for tensor in unique:
        if id(tensor) in recording.pending:
            _settle(recording, tensor, recording.where.path)
    if any(id(tensor) in recording.arranged for tensor in unique):
        if not _add_arranged(recording, call, inputs, output, name, state):
            rearranging = single is not None and call.function in REARRANGING
            _pend(recording, call, single if rearranging else None, output,
                  reason if rearranging else f"{reason} that reads positions rearranged by the reshapes before it "
                                             "(as MaxViT's window partitions)")
        return
    found = next(((op, params) for op in recording.ops if (params := _accepts(op, call)) is not None), None)
    if found is None:
        _pend(recording, call, single, output, reason)
        return
    op, params = found
    _add_found(recording, op, params, what, inputs, output, name, state)


def _add_found(recording: _Recording, op: Op, params: Mapping[str, Any], what: str, inputs: Sequence[Any],
               output: Any, name: str, state: Mapping[str, Any]) -> None:
    """The layer of ``op`` that a call (``what``) made, reading the traced inputs."""
    for tensor in _unique(inputs):
        if id(tensor) in recording.parameters and id(tensor) not in recording.values:
            _learned(recording, tensor, tensor, tensor.shape)
    read = _unique(inputs) if op.max_inputs == 1 else inputs  # attention(x, x, x) reads x; cat([x, x]) twice
    sources = tuple(_source(recording, tensor) for tensor in read)
    _check_batch(recording, what, sources, output)
    call_site = recording.where
    recording.values[id(output)] = _record(recording, op, params, sources, call_site.path, call_site.types, name,
                                           state)
    recording.keep.append(output)


def _check_batch(recording: _Recording, what: str, sources: Sequence[str], output: Any) -> None:
    where = recording.place()
    if not sources:
        raise ImportFailure(f"{what} in {where} takes no tensor input that archspec can trace", hint=_HELP)
    if output.shape[:1] != (BATCH,):
        raise ImportFailure(f"{what} in {where} changes the batch axis", hint=_HELP)


def _record(recording: _Recording, op: Op, params: Mapping[str, Any], sources: tuple[str, ...],
            scope: tuple[str, ...], types: tuple[str, ...], name: str, state: Mapping[str, Any]) -> str:
    """A new layer; its id."""
    layer_id = f"n{len(recording.layers)}"
    recording.layers.append(FlatLayer(layer_id, op.kind, _without_defaults(op, dict(params)), sources, scope,
                                      types, name, state))
    recording.last = layer_id
    return layer_id


def _what(call: TorchCall) -> str:
    return f"{type(call.module).__name__}" if call.module is not None else f"function '{call.function}'"


def _add_chain(recording: _Recording, call: TorchCall, single: Any, output: Any, name: str) -> bool:
    """The call as the end of the chain of calls that made its input, if an op reads that chain as one layer."""
    pending = recording.pending[id(single)]
    if id(pending.origin) not in recording.values:
        return False
    chained = replace(call, input_shapes=(tuple(pending.origin.shape[1:]),), chain=pending.chain)
    found = next(((op, params) for op in recording.ops
                  if op.torch_chains and (params := _accepts(op, chained)) is not None), None)
    if found is None:
        return False
    _add_found(recording, found[0], found[1], _what(call), [pending.origin], output, name, {})
    return True


def _pend(recording: _Recording, call: TorchCall, single: Any, output: Any, reason: str) -> None:
    """No op takes the call: its output is an error where something reads it, unless it is one more call of a
    chain (of a traced tensor's) that an op reads later, or that only moves positions (see :func:`_settle`)."""
    recording.poisoned[id(output)] = reason
    recording.keep.append(output)
    if single is None:
        return
    here = recording.where.path
    before = recording.pending.get(id(single))
    if before is None and (id(single) in recording.values or id(single) in recording.arranged):
        before = _Pending(single, (), here)
    if before is None:
        return
    recording.pending[id(output)] = _Pending(before.origin, (*before.chain, call), _common(before.scope, here))
    if id(before.origin) in recording.arranged:
        _settle(recording, output, here, eager=True)


def _common(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    length = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b),
                  min(len(first), len(second)))
    return first[:length]


def _settle(recording: _Recording, tensor: Any, here: tuple[str, ...], eager: bool = False) -> None:
    """A tensor that calls no op took made, read as what those calls did, where they only moved elements: its
    origin with axes reordered (a ``permute`` layer, or nothing), or a channels-last image with positions
    rearranged (an :class:`_Arranged` tensor of that image).  Otherwise it stays pending.

    ``eager``: as soon as a chain from a rearranged image is made; only a reordering of the image's axes,
    or the image regrouped again with its channels last, settles it there, so that the layer putting the
    image back goes where the reshapes undoing the arrangement are.
    """
    pending = recording.pending[id(tensor)]
    if any(call.function not in REARRANGING for call in pending.chain):
        return
    origin = pending.origin
    arranged = recording.arranged.get(id(origin))
    scope = _common(pending.scope, here)
    if arranged is not None:
        image: tuple[int, ...] = (*arranged.grid, int(origin.shape[-1]))
        index, base = positions.elements(arranged.places, image[-1], BATCH), arranged.value
        scope = _common(scope, arranged.scope)
    else:
        image = tuple(int(n) for n in origin.shape[1:])
        index, base = positions.indices(image, BATCH), recording.values[id(origin)]
    for call in pending.chain:
        moved = positions.replay(index, call)
        if moved is None:
            return
        index = moved
    sample = positions.per_sample(index, BATCH)
    if sample is None:
        return
    order = positions.axis_order(sample, image)
    if order is not None:
        value = _permuted(recording, base, image, order, scope)
        if value is None:
            return
        recording.values[id(tensor)] = value
    else:
        axis = positions.last_axis(sample, image)
        if axis is None or (eager and axis != len(image) - 1):
            return
        value = _permuted(recording, base, image, positions.channels_last(image, axis), scope)
        if value is None:
            return
        grid = tuple(size for k, size in enumerate(image) if k != axis)
        recording.arranged[id(tensor)] = _Arranged(value, positions.positions(sample, image, axis), grid, scope)
    del recording.pending[id(tensor)]
    recording.poisoned.pop(id(tensor), None)


def _permuted(recording: _Recording, value: str, shape: tuple[int, ...], order: tuple[int, ...],
              scope: tuple[str, ...]) -> str | None:
    """``value`` with its axes in ``order``: itself, or the layer an op makes of ``x.permute(...)`` in ``scope``."""
    if order == tuple(range(len(shape))):
        return value
    call = TorchCall((shape,), tuple(shape[k] for k in order), function="permute",
                     arguments=(TENSOR, 0, *(k + 1 for k in order)))
    found = next(((op, params) for op in recording.ops if (params := _accepts(op, call)) is not None), None)
    if found is None:
        return None
    types = tuple(recording.types.get(scope[: depth + 1], "") for depth in range(len(scope)))
    return _record(recording, found[0], found[1], (value,), scope, types, "", {})


def _add_arranged(recording: _Recording, call: TorchCall, inputs: Sequence[Any], output: Any, name: str,
                  state: Mapping[str, Any]) -> bool:
    """A call on tensors whose positions were rearranged, read as a layer on the image they hold, by an op that
    computes position by position or that reads the arrangement (:attr:`TorchCall.positions`); False if none."""
    unique = _unique(inputs)
    arranged = _shared_arrangement(recording, unique, output)
    if arranged is None:
        return False
    shapes = tuple((*arranged.grid, int(tensor.shape[-1])) for tensor in unique)
    image_call = replace(call, input_shapes=shapes, output_shape=(*arranged.grid, int(output.shape[-1])),
                         positions=arranged.places)
    found = next(((op, params) for op in recording.ops if (params := _accepts(op, image_call)) is not None
                  and _reads_arranged(op, params, shapes)), None)
    if found is None:
        return False
    op, params = found
    read = unique if op.max_inputs == 1 else inputs
    sources = tuple(recording.arranged[id(tensor)].value for tensor in read)
    _check_batch(recording, _what(call), sources, output)
    call_site = recording.where
    layer_id = _record(recording, op, params, sources, call_site.path, call_site.types, name, state)
    recording.arranged[id(output)] = replace(arranged, value=layer_id)
    recording.keep.append(output)
    return True


def _shared_arrangement(recording: _Recording, inputs: Sequence[Any], output: Any) -> _Arranged | None:
    """The arrangement of every input, where they share one and the output keeps their positions."""
    found = [recording.arranged.get(id(tensor)) for tensor in inputs]
    first = found[0]
    if first is None or any(other is None or other.grid != first.grid
                            or not np.array_equal(other.places, first.places) for other in found):
        return None
    if any(tuple(tensor.shape[:-1]) != tuple(output.shape[:-1]) for tensor in inputs):
        return None
    return first


def _reads_arranged(op: Op, params: Mapping[str, Any], shapes: tuple[Shape, ...]) -> bool:
    if op.torch_positions:
        return True
    try:
        return op.per_position(op.Params.model_validate(dict(params)), shapes)
    except (ValueError, TypeError, ShapeError):  # pydantic's ValidationError is a ValueError
        return False


def _learned(recording: _Recording, parameter: Any, output: Any, shape: Sequence[int]) -> None:
    """A parameter used directly in forward (ViT's class token, ConvNeXt's layer scale) as a ``learned`` layer
    held by the module that uses it, under its attribute name."""
    owner, attribute = recording.parameters[id(parameter)]
    call_site = recording.where
    if owner != call_site.path:
        raise ImportFailure(f"parameter '{'.'.join((*owner, attribute))}' is used in {recording.place()}, outside "
                            "the module that holds it", hint="use a parameter only in its own module's forward")
    batch_axis = len(shape) > 1 and shape[0] == 1 and parameter.dim() == len(shape)
    params = {"shape": [int(n) for n in (shape[1:] if batch_axis else shape)], "batch_axis": batch_axis,
              "parameter": True}
    layer_id = f"n{len(recording.layers)}"
    recording.layers.append(FlatLayer(layer_id, "learned", params, (recording.last,), (*owner, attribute),
                                      (*call_site.types, "Parameter"), attribute,
                                      {"": parameter}))
    recording.values[id(output)] = layer_id
    recording.keep.append(output)


def _source(recording: _Recording, tensor: Any) -> str:
    if id(tensor) in recording.pending:
        _settle(recording, tensor, recording.where.path)
    found = recording.values.get(id(tensor))
    if found is not None:
        return found
    reason = recording.poisoned.get(id(tensor))
    if reason is not None:
        raise ImportFailure(reason, hint=_HELP)
    if id(tensor) in recording.arranged:
        raise ImportFailure(f"a tensor whose positions reshapes rearranged (as MaxViT's window partitions) is "
                            f"read in {recording.place()} by something that is not computed position by position",
                            hint="put the positions back (the inverse reshapes) before it, or " + _HELP)
    raise ImportFailure(f"a tensor used in {recording.place()} does not come from the input (a constant, "
                        "a parameter used directly, or a tensor made inside forward)", hint=_HELP)


def _without_defaults(op: Op, params: dict[str, Any]) -> dict[str, Any]:
    fields = op.Params.model_fields
    return {key: value for key, value in params.items()
            if key not in fields or fields[key].is_required() or fields[key].default != value}


def _unique(tensors: Sequence[Any]) -> list[Any]:
    seen: set[int] = set()
    return [t for t in tensors if not (id(t) in seen or seen.add(id(t)))]  # type: ignore[func-returns-value]


def _tensors(values: Sequence[Any]) -> list[Any]:
    import torch

    found: list[Any] = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(_tensors(value))
    return found


def _function_name(func: Any) -> str:
    name = getattr(func, "__name__", "") or ""
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name.startswith("i") and name[1:] in ("add", "mul", "sub", "truediv"):
            name = name[1:]
        name = {"truediv": "div"}.get(name, name)
    return name.rstrip("_") if not name.startswith("_") else name


def _masked(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return TENSOR
    if isinstance(value, (list, tuple)):
        return [_masked(v) for v in value]
    return value


def _function_mode(recording: _Recording) -> Any:
    from torch.overrides import TorchFunctionMode

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = kwargs or {}
            raw_name = getattr(func, "__name__", "")
            if recording.where.layer or recording.quiet:
                return func(*args, **kwargs)
            inputs = _tensors(args) + _tensors(list(kwargs.values()))
            traced = [t for t in inputs if recording.traced(t)]
            if traced and raw_name in _CONTROL_FLOW:
                raise ImportFailure(f"data-dependent control flow in {recording.place()}: forward turns a tensor "
                                    f"into a Python value ({raw_name})",
                                    hint="archspec specs are static graphs; make the branch a constructor "
                                         "argument, or " + _HELP)
            result = func(*args, **kwargs)
            if not traced:
                if raw_name == "expand" and len(inputs) == 1 and id(inputs[0]) in recording.parameters \
                        and result.dim() == inputs[0].dim() and result.shape[0] == BATCH:
                    _learned(recording, inputs[0], result, inputs[0].shape)
                return result
            import torch

            name = _function_name(func)
            parts = list(result) if isinstance(result, (tuple, list)) else []
            if parts and all(isinstance(part, torch.Tensor) for part in parts):
                for index, part in enumerate(parts):
                    _offer(recording, name, args, kwargs, inputs, part, index)
                return result
            if not isinstance(result, torch.Tensor):
                return result
            kept = len(traced) == 1 and (tuple(result.shape) == tuple(traced[0].shape)
                                         or id(traced[0]) in recording.poisoned)
            if name in _PASS_THROUGH and kept:
                _alias(recording, result, traced[0])
                return result
            if name == "dropout" and (recording.training or not kwargs.get("training",
                                                                            args[2] if len(args) > 2 else False)):
                _alias(recording, result, traced[0])
                return result
            _offer(recording, name, args, kwargs, inputs, result, None)
            return result

    return Recorder()


def _alias(recording: _Recording, result: Any, tensor: Any) -> None:
    """``result`` is ``tensor`` passed through (``contiguous()``, dropout at inference)."""
    if id(tensor) in recording.arranged:
        recording.arranged[id(result)] = recording.arranged[id(tensor)]
    elif id(tensor) in recording.poisoned:
        recording.poisoned[id(result)] = recording.poisoned[id(tensor)]
        if id(tensor) in recording.pending:
            recording.pending[id(result)] = recording.pending[id(tensor)]
    else:
        recording.values[id(result)] = _source(recording, tensor)
    recording.keep.append(result)


def _offer(recording: _Recording, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], inputs: list[Any],
           result: Any, output_index: int | None) -> None:
    """Offer one function call (or one of the tensors it returns) to the ops as a layer."""
    keywords = {k: _masked(v) for k, v in kwargs.items()}
    shapes = tuple(tuple(t.shape[1:]) for t in _unique(inputs))
    call = TorchCall(shapes, tuple(result.shape[1:]), function=name, arguments=tuple(_masked(a) for a in args),
                     keywords=keywords, output_index=output_index)
    recording.quiet += 1
    try:
        _add_layer(recording, call, inputs, result, "", {})
    finally:
        recording.quiet -= 1


class _FunctionMode:
    def __init__(self, recording: _Recording):
        self.mode = _function_mode(recording)

    def __enter__(self) -> None:
        self.mode.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.mode.__exit__(*exc)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower() or "imported"


def import_torch(module: torch.nn.Module, input_shape: Sequence[int], name: str = "", source: str = "") -> str:
    """A PyTorch module as the YAML text of a short spec whose built module takes its ``state_dict``.

    The module runs once on random inputs of ``input_shape`` (no batch axis).  Blocks, named
    repeats and layer names are recovered from its submodules, so
    ``archspec.build(spec).load_state_dict(module.state_dict(), strict=True)`` works.  What the
    spec language cannot express raises :class:`~archspec.errors.SpecError` naming the module.
    """
    from archspec.importers.write import write_spec

    return write_spec(read_torch(module, input_shape, name), source or type(module).__name__)


def load_source(source: str) -> torch.nn.Module:
    """``package.module:attr``: an ``nn.Module`` subclass or a function returning one, called with no arguments."""
    import importlib

    import torch

    module_name, _, attribute = source.partition(":")
    if not module_name or not attribute:
        raise ImportFailure(f"'{source}' is not a PyTorch source",
                            hint="write package.module:attr (torchvision.models:resnet50) or a path to an .onnx file")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportFailure(f"cannot import '{module_name}': {exc}", hint="check the module path and PYTHONPATH") \
            from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ImportFailure(f"'{module_name}' has no attribute '{attribute}'")
        found = getattr(found, part)
    model = found() if callable(found) and not isinstance(found, torch.nn.Module) else found
    if not isinstance(model, torch.nn.Module):
        raise ImportFailure(f"'{source}' gave {type(model).__name__}, not a torch.nn.Module",
                            hint="name an nn.Module subclass or a function that returns a module")
    return model
