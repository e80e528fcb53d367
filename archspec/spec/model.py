"""The spec language as pydantic models: the single source of truth for what a spec may say.

A layer entry is one of (a discriminated union, chosen by the entry's key):

* an op: ``relu``, ``{conv2d: 64}``, ``{conv2d: {channels: 64, kernel: 3}, name: conv1}``,
  ``{add: [conv2, shortcut]}``;
* a block call: ``{stage: {channels: 64, convs: 2}}`` (blocks are declared under ``blocks:``);
* ``{repeat: N, body: [...]}``: the body N times;
* ``{residual: auto, body: [...]}``: the body plus a shortcut from its input, summed.

Any value may be an expression (``$channels * 2``) over the variables in scope.  The op models
here are *templates* of each op's ``Params``: a literal value is checked at once, an expression
is checked after it is evaluated (see :mod:`archspec.graph.lower.nodes`; :mod:`archspec.spec.tree` holds
the typed, located entries the lowering reads).  The models are built from
the op registry, so a user's op is part of the language, its JSON Schema and its errors.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    create_model,
)
from pydantic.fields import FieldInfo

from archspec.ops.base import MAX_SIZE, Op
from archspec.ops.registry import registered_ops, registry_generation

FORMAT_VERSION = 1

Expression = Annotated[
    str,
    Field(pattern=r"^\$", description="an expression over variables in scope, such as $channels * 2"),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]
LayerName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*$", max_length=100)]
"""A layer name: letters, digits, underscores and inner hyphens; all digits (``'0'``) names a child as
``nn.Sequential`` does, and a hyphen as RegNet does (``block1-0``)."""
MemberName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)?$",
                                  max_length=201)]
"""A layer's or block call's name: a layer name, or ``container.name`` (``up.0``), which registers the layer
in a container of the enclosing module (an ``nn.ModuleList`` when its names are 0, 1, ...) while it runs
where it is written."""
InputRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=400)]
"""A layer name in the current scope, ``input`` for the scope's input, or a dotted path into a block."""

ENTRY_META_KEYS = ("name", "inputs")
STRUCTURE_KEYS = ("repeat", "residual")
PARAM_TYPES = ("int", "float", "bool", "str", "list", "block", "any")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class InitScheme(_Strict):
    """How the torch backend initializes one op kind's parameters."""

    weight: Literal[
        "default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "normal", "zeros",
        "ones",
    ] = "default"
    bias: Literal["default", "zeros", "ones"] = "default"
    mode: Literal["fan_in", "fan_out"] = "fan_out"
    """For kaiming: preserve the variance of the forward (fan_in) or backward (fan_out) pass."""
    nonlinearity: Literal["relu", "leaky_relu", "tanh", "sigmoid", "linear"] = "relu"
    std: Annotated[float, Field(gt=0)] = 0.01
    """For normal: the standard deviation."""


class BlockParam(_Strict):
    """A block parameter: its type, and a default that makes it optional."""

    type: Literal["int", "float", "bool", "str", "list", "block", "any"] = "any"
    default: Any = None
    description: str = ""


class ResidualOptions(_Strict):
    shortcut: Literal["auto", "identity", "projection"] | list[Any] | Expression = "auto"
    """auto: identity where the shape is kept, else a projection (1×1 conv with stride + batch norm)."""
    enabled: StrictBool | Expression = True
    """false drops the shortcut and the sum (a plain network from the same spec)."""
    name: LayerName = "shortcut"
    """Scope of the shortcut's layers (``layer2.0.shortcut.conv``)."""


OutputName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=100)]
"""An output's name: a Python identifier that is a named-tuple field (no leading underscore)."""


class OutputEntry(_Strict):
    """One of several outputs, in its long form."""

    layer: InputRef
    """The layer whose value this output is."""
    training_only: bool = False
    """Computed and returned only in training mode (an auxiliary classifier); inference leaves it out."""


# -- layer entries -----------------------------------------------------------------------------

class _RepeatEntryBase(_Strict):
    repeat: Annotated[StrictInt, Field(ge=1, le=100_000)] | Expression
    """How many times to repeat the body."""
    body: list[Any] | Any
    name: LayerName | None = None
    """A named repeat makes a scope with one child per iteration: layer1.0, layer1.1, ..."""
    names: str | None = None
    """A named repeat's iteration names, an expression of ``index`` (``"denselayer${index + 1}"``); default 0, 1, ..."""
    index: Identifier = "index"
    """The variable holding the iteration number (0-based) inside the body."""
    inputs: InputRef | list[InputRef] | None = None


class _ResidualEntryBase(_Strict):
    residual: Literal["auto", "identity", "projection"] | ResidualOptions | Expression | None = "auto"
    body: list[Any] | Any
    name: LayerName | None = None
    inputs: InputRef | list[InputRef] | None = None


class _BlockCallBase(BaseModel):
    """A call of a block declared under ``blocks:``; the single key other than name/inputs is the block."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)
    name: MemberName | None = None
    inputs: InputRef | list[InputRef] | None = None


class _InvalidEntry(_Strict):
    """Matched when an entry has no kind key or several; it always fails with a clear message."""


def entry_kind(value: Any) -> str:
    """The discriminator of a layer entry: the op, construct or block it names."""
    if isinstance(value, str):
        return "layer:bare"
    if not isinstance(value, dict):
        return "layer:invalid"
    keys = [key for key in value if key not in ENTRY_META_KEYS and key not in ("body", "index")]
    if len(keys) != 1:
        if "repeat" in value:
            return "layer:repeat"
        if "residual" in value:
            return "layer:residual"
        return "layer:invalid"
    (key,) = keys
    if not isinstance(key, str):
        return "layer:invalid"
    if key in STRUCTURE_KEYS:
        return f"layer:{key}"
    if key in registered_ops():
        return f"layer:{key}"
    return "layer:block"


def _widen(annotation: Any, field: FieldInfo) -> Any:
    typed = Annotated[(annotation, *field.metadata)] if field.metadata else annotation
    return Union[typed, Expression]  # noqa: UP007  (a runtime type expression)


def template_model(params: type[BaseModel], *, partial: bool = False) -> type[BaseModel]:
    """The op's Params with every field also accepting an expression (``partial``: all optional)."""
    fields: dict[str, Any] = {}
    for name, field in params.model_fields.items():
        required = field.is_required() and not partial
        default: Any = ... if required else (None if partial else field.default)
        info = Field(default, description=field.description, alias=field.alias)
        fields[name] = (_widen(field.annotation, field), info)
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{params.__name__}{'Defaults' if partial else 'Template'}",
        __config__=ConfigDict(extra="forbid", frozen=True, title=params.__name__),
        __doc__=params.__doc__,
        **fields,
    )


def _shorthand_type(op: Op) -> Any:
    if op.shorthand is None:
        return None
    if op.shorthand == "inputs":
        return list[InputRef]
    field = op.Params.model_fields[op.shorthand]
    return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _op_entry_model(op: Op, template: type[BaseModel]) -> type[BaseModel]:
    shorthand = _shorthand_type(op)
    members: list[Any] = [template]
    if shorthand is not None:
        members.append(shorthand)
    members += [Expression, None]
    value_type = Union[tuple(members)]  # noqa: UP007
    fields: dict[str, Any] = {
        op.kind: (value_type, Field(None, description=op.description)),
        "name": (MemberName | None, None),
        "inputs": (InputRef | list[InputRef] | None, None),
    }
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{op.kind}_layer",
        __config__=ConfigDict(extra="forbid", frozen=True, title=f"{op.kind} layer"),
        __doc__=op.description,
        **fields,
    )


def language() -> Language:
    """The models of the language for the ops registered now (rebuilt when they change)."""
    return _language(registry_generation())


@functools.lru_cache(maxsize=1)
def _language(generation: int) -> Language:
    return Language(registered_ops())


class Language:
    """The spec models for one set of registered ops."""

    def __init__(self, ops: dict[str, Any]):
        self.op_kinds = tuple(ops)
        self.entry_models: dict[str, type[BaseModel]] = {}
        self.param_templates: dict[str, type[BaseModel]] = {}
        for kind, registered in ops.items():
            op = registered.op
            # Partial: a required parameter may come from the spec's or a block's defaults,
            # so required-ness is checked once those are merged, in the lowering.
            self.param_templates[kind] = template_model(op.Params, partial=True)
            self.entry_models[kind] = _op_entry_model(op, self.param_templates[kind])

        bare_kinds = Literal[self.op_kinds]  # type: ignore[valid-type]
        members: list[Any] = [Annotated[bare_kinds | Annotated[StrictStr, Field(pattern=r"^\$?[A-Za-z_]\w*$")],
                                        Tag("layer:bare")]]
        members += [Annotated[model, Tag(f"layer:{kind}")] for kind, model in self.entry_models.items()]

        repeat = create_model(
            "repeat", __base__=_RepeatEntryBase, __config__=None,
            body=(Union[list["Layer"], "Layer"], ...),  # noqa: F821
        )
        residual = create_model(
            "residual", __base__=_ResidualEntryBase,
            body=(Union[list["Layer"], "Layer"], ...),  # noqa: F821
        )
        members += [Annotated[repeat, Tag("layer:repeat")], Annotated[residual, Tag("layer:residual")],
                    Annotated[_BlockCallBase, Tag("layer:block")],
                    Annotated[_InvalidEntry, Tag("layer:invalid")]]
        layer = Annotated[Union[tuple(members)], Discriminator(entry_kind)]  # noqa: UP007
        namespace = {"Layer": layer}
        repeat.model_rebuild(_types_namespace=namespace)
        residual.model_rebuild(_types_namespace=namespace)
        self.repeat_model = repeat
        self.residual_model = residual

        defaults_fields = {
            kind: (self.param_templates[kind] | None, None) for kind in self.op_kinds
        }
        defaults = create_model(  # type: ignore[call-overload]
            "Defaults", __config__=ConfigDict(extra="forbid", frozen=True), **defaults_fields,
        )
        init = create_model(  # type: ignore[call-overload]
            "Init", __config__=ConfigDict(extra="forbid", frozen=True),
            **{kind: (InitScheme | None, None) for kind in self.op_kinds},
        )

        block = create_model(
            "Block",
            __config__=ConfigDict(extra="forbid", frozen=True),
            description=(str, ""),
            params=(dict[Identifier, Union[Literal[PARAM_TYPES], BlockParam]], {}),  # type: ignore[valid-type]  # noqa: UP007
            defaults=(defaults | None, None),
            register_first=(list[Identifier], Field([], description=(
                "layers of the body (by name) that the module registers first, in this order, before the "
                "others in the order written: a reference implementation's state_dict order where it "
                "differs from the order its forward runs"))),
            body=(Union[list[layer], layer], ...),  # type: ignore[valid-type]  # noqa: UP007
        )
        InputShape = Annotated[list[Annotated[StrictInt, Field(ge=1, le=MAX_SIZE)]],
                               Field(min_length=1, max_length=3)]
        self.spec_model: type[BaseModel] = create_model(
            "Spec",
            __config__=ConfigDict(extra="forbid", frozen=True, title="archspec spec"),
            __doc__="A network written in the archspec spec language.",
            archspec=(Literal[1], Field(..., description="format version of the spec language")),
            name=(Identifier | None, None),
            description=(str, ""),
            extends=(str | None, Field(None, description="a spec (path or built-in name) this one builds on")),
            plugins=(list[Identifier], Field([], description="plugins (op packages) this spec needs")),
            input=(InputShape | Expression | None, Field(None, description="[C, H, W] or [features]")),
            variables=(dict[Identifier, Any], {}),
            defaults=(defaults | None, None),
            init=(init | None, None),
            blocks=(dict[Identifier, block], {}),  # type: ignore[valid-type]
            layers=(list[layer] | None, None),  # type: ignore[valid-type]
            output=(InputRef | None, Field(None, description="the layer whose output is the network's output")),
            outputs=(dict[OutputName, InputRef | OutputEntry] | None,  # type: ignore[valid-type]
                     Field(None, description="several named outputs, the main one first: "
                                             "{name: layer} or {name: {layer: ..., training_only: true}}")),
        )

    def json_schema(self) -> dict[str, Any]:
        schema = self.spec_model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = "https://archspec.dev/schema/v1.json"
        return schema
