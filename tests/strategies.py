"""Hypothesis strategies: random *valid* specs, for property tests of every backend.

    from tests.strategies import analyse_document, specs

    @given(specs())
    def test_something(document):
        graph = analyse_document(document)

A document is plain data (what ``yaml.safe_load`` of a spec file gives).  It mixes sequential
stacks of every built-in op (odd sizes, strides, dilations, groups, asymmetric kernels,
``same`` padding, ``ceil_mode``), residuals (identity, automatic projections, explicit shortcut
layers), concatenated branches, named and unnamed repeats, blocks with parameters called in
repeats (a ResNet stage: the first block projects), references into a block (``b1.bn1``) or a
repeat (``stage2.0``),
layers held in a container (``held.b3``, run between other layers), ``init:`` schemes and
classifier heads; spec-wide ``variables`` used in ``$expressions`` and
``defaults``; blocks calling blocks, with a block-typed parameter and a residual switched off by a
parameter; repeats in repeats; global pooling in mid-network; adaptive pooling to larger sizes;
inputs down to 1×1; flat inputs (a multilayer perceptron); the zoo's pieces: the modern activations,
layer norm, squeeze-and-excitation gates (``multiply`` broadcasting a pooled branch), channel shuffle
and chunk, learned layer scales, channels-last stretches with window attention and patch merging, and
a ViT-style head (tokens, a learned class token, self-attention, ``select``).  Shapes are tracked with archspec's
own shape rules while drawing, so every document analyses; :func:`analyse_document` raises if
one does not.

``specs(exportable=True)`` draws only what ONNX can express (an LRN of odd size), for
differential tests against onnxruntime.

Ops from outside archspec join through ``extra``: functions that draw a layer of a user's op
fitting the current shape, used as pieces of their own and at the end of residual branches::

    def squeeze_excite(draw, shape):
        return "squeeze_excite", {"reduction": draw(st.integers(1, shape[0]))}

    @given(specs(extra=[squeeze_excite]))
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from archspec.graph.ir import Graph
from archspec.graph.lower import analyse
from archspec.ops.base import Shape, ShapeError
from archspec.ops.registry import get_op

Document = dict[str, Any]
ExtraLayer = Callable[[st.DrawFn, Shape], "tuple[str, dict[str, Any] | None] | None"]
"""Draws a layer of a user's op that fits an input of the given shape: its kind and parameters (None
for a bare entry), or None when the op has nothing that fits."""

BLOCKS: dict[str, Any] = {
    "unit": {
        "params": {"channels": "int", "stride": {"type": "int", "default": 1}},
        "body": [{"conv2d": {"channels": "$channels", "kernel": 3, "stride": "$stride", "padding": 1}},
                 "batchnorm2d", "relu"],
    },
    "basic": {
        "params": {"channels": "int", "stride": {"type": "int", "default": 1}},
        "body": [
            {"residual": "auto", "body": [
                {"conv2d": {"channels": "$channels", "kernel": 3, "stride": "$stride", "padding": 1, "bias": False}},
                "batchnorm2d", "relu",
                {"conv2d": {"channels": "$channels", "kernel": 3, "padding": 1, "bias": False}},
                "batchnorm2d"]},
            "relu",
        ],
    },
    "double": {
        "params": {"channels": "int", "skip": {"type": "bool", "default": True},
                   "pool": {"type": "block", "default": "maxpool2d"}},
        "body": [
            {"unit": {"channels": "$channels"}},
            {"residual": {"enabled": "$skip"}, "body": [{"unit": {"channels": "$channels"}}]},
            {"$pool": {"kernel": 3, "stride": 1, "padding": 1}, "name": "pool"},
        ],
    },
    "branches": {
        "params": {"widths": "list"},
        "body": [
            {"conv2d": {"channels": "$widths[0]", "kernel": 1}, "name": "left"},
            {"conv2d": {"channels": "$widths[1]", "kernel": 3, "padding": 1}, "name": "right", "inputs": "input"},
            {"concat": ["left", "right"]},
        ],
    },
}

POINTWISE = ["batchnorm2d", "relu", "leaky_relu", "gelu", "tanh", "sigmoid", "dropout", "identity", "lrn", "softmax",
             "relu6", "hardswish", "hardsigmoid", "silu", "mish", "layer_norm"]


def output_shape(kind: str, params: dict[str, Any], inputs: list[Shape]) -> Shape:
    """The shape archspec infers for one layer (raises ShapeError or ValueError if it does not fit)."""
    op = get_op(kind)
    assert op is not None, kind
    return tuple(op.output_shape(op.Params.model_validate(params), inputs))


BLOCK_USES = {"double": ("unit",)}
"""Blocks whose bodies call other blocks."""


@st.composite
def specs(draw: st.DrawFn, max_units: int = 5, head: bool = True, extra: Sequence[ExtraLayer] = (),
          exportable: bool = False) -> Document:
    """A random valid spec document with up to ``max_units`` pieces and (optionally) a classifier head;
    ``extra`` adds layers of a user's ops (see the module's docstring); ``exportable`` keeps to layers
    ONNX can express (an LRN's size is odd)."""
    if head and not extra and draw(st.integers(0, 11)) == 0:
        return draw(perceptrons())
    extent = st.integers(1, 3) if draw(st.integers(0, 7)) == 0 else st.integers(4, 15)  # sometimes tiny
    shape = (draw(st.integers(1, 4)), draw(extent), draw(extent))
    builder = _Builder(draw, shape, tuple(extra), exportable)
    for _ in range(draw(st.integers(1, max_units))):
        builder.unit()
    if head:
        builder.head()
    if not builder.layers:  # every piece drawn was one that does not fit a tiny input
        builder.add("identity", None, builder.shape)
    return builder.document()


@st.composite
def perceptrons(draw: st.DrawFn) -> Document:
    """A flat input through linear layers and activations (``$expressions`` over a variable)."""
    features = draw(st.integers(1, 12))
    layers: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        layers.append({"linear": {"features": draw(st.sampled_from([1, 5, "$hidden", "${hidden * 2}"])),
                                  "bias": draw(st.booleans())}})
        layers.extend(draw(st.lists(st.sampled_from(["relu", "leaky_relu", "gelu", "tanh", "sigmoid", "dropout",
                                                     "identity", "softmax"]), max_size=2)))
    return {"archspec": 1, "name": "random_mlp", "input": [features],
            "variables": {"hidden": draw(st.integers(1, 9))}, "layers": layers}


class _Builder:
    def __init__(self, draw: st.DrawFn, shape: Shape, extra: tuple[ExtraLayer, ...] = (), exportable: bool = False):
        self.draw = draw
        self.extra = extra
        self.input = shape
        self.shape = shape
        self.exportable = exportable
        self.layers: list[Any] = []
        self.blocks: set[str] = set()
        self.variables: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}
        self.count = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def member(self, stem: str) -> str:
        """A fresh name, or one in the network's container (``held.b3``): registered in one ``nn.ModuleDict``
        with the other layers so named, each run where it is written."""
        name = self.fresh(stem)
        return f"held.{name}" if self.draw(st.booleans()) else name

    def document(self) -> Document:
        document: Document = {"archspec": 1, "name": "random_net", "input": list(self.input)}
        if self.variables:
            document["variables"] = self.variables
        if self.defaults:
            document["defaults"] = self.defaults
        used = self.blocks | {needed for block in self.blocks for needed in BLOCK_USES.get(block, ())}
        if used:
            document["blocks"] = {name: BLOCKS[name] for name in sorted(used)}
        if self.draw(st.booleans()):
            document["init"] = {
                "conv2d": {"weight": self.draw(st.sampled_from(["kaiming_normal", "xavier_uniform", "default"])),
                           "mode": self.draw(st.sampled_from(["fan_in", "fan_out"])),
                           "bias": self.draw(st.sampled_from(["zeros", "default"]))},
                "linear": {"weight": "normal", "std": 0.01, "bias": "zeros"},
            }
        document["layers"] = self.layers
        return document

    # -- pieces ------------------------------------------------------------------------------
    def unit(self) -> None:
        choices = [self.conv, self.conv, self.pool, self.pointwise, self.pointwise, self.residual, self.concat,
                   self.repeat, self.block_call, self.stage, self.scaled, self.nested, self.nested_repeat,
                   self.global_pool, self.adaptive_pool, self.gate, self.channel_mix, self.layer_scale,
                   self.windowed]
        if self.extra:  # about a third of the pieces
            choices += [self.extra_layer] * (len(choices) // 2)
        self.draw(st.sampled_from(choices))()

    def add(self, kind: str, params: dict[str, Any] | None, shape: Shape, **meta: Any) -> None:
        self.layers.append({kind: params, **meta} if params is not None or meta else kind)
        self.shape = shape

    def conv_params(self, shape: Shape) -> tuple[dict[str, Any], Shape]:
        draw = self.draw
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if shape[0] % g == 0]))
        params: dict[str, Any] = {"channels": groups * draw(st.integers(1, 4)), "groups": groups}
        params["kernel"] = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 3), st.integers(1, 3))))
        params["stride"] = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 2), st.integers(1, 2))))
        params["padding"] = draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"]),
                                           st.tuples(st.integers(0, 1), st.integers(0, 2))))
        params["dilation"] = draw(st.integers(1, 2))
        params["bias"] = draw(st.booleans())
        try:
            return params, output_shape("conv2d", params, [shape])
        except (ShapeError, ValueError):
            fallback = {"channels": params["channels"], "kernel": 1}
            return fallback, output_shape("conv2d", fallback, [shape])

    def conv(self) -> None:
        params, shape = self.conv_params(self.shape)
        self.add("conv2d", params, shape)

    def pool(self) -> None:
        draw = self.draw
        kind = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
        kernel = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
        smallest = kernel if isinstance(kernel, int) else min(kernel)
        params: dict[str, Any] = {"kernel": kernel, "padding": draw(st.integers(0, smallest // 2)),
                                  "ceil_mode": draw(st.booleans())}
        if draw(st.booleans()):
            params["stride"] = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 2))))
        if kind == "avgpool2d":
            params["count_include_pad"] = draw(st.booleans())
        try:
            shape = output_shape(kind, params, [self.shape])
        except (ShapeError, ValueError):
            return
        self.add(kind, params, shape)

    def adaptive_pool(self) -> None:
        size = (self.draw(st.integers(1, self.shape[1] + 2)), self.draw(st.integers(1, self.shape[2] + 2)))
        self.add("adaptive_avgpool2d", {"size": list(size)}, (self.shape[0], *size))

    def pointwise(self) -> None:
        draw = self.draw
        kind = draw(st.sampled_from(POINTWISE))
        params: dict[str, Any] | None = None
        if kind == "batchnorm2d" and draw(st.booleans()):
            params = {"eps": 1e-3, "momentum": 0.2, "affine": draw(st.booleans())}
        elif kind == "leaky_relu":
            params = {"slope": draw(st.sampled_from([0.01, 0.2]))}
        elif kind == "dropout":
            params = {"p": draw(st.sampled_from([0.0, 0.25, 0.5]))}
        elif kind == "layer_norm" and draw(st.booleans()):
            params = {"eps": 1e-3, "affine": draw(st.booleans())}
        elif kind == "lrn":
            size = draw(st.sampled_from([1, 3, 5, 7]) if self.exportable else st.integers(1, 5))
            params = {"size": size, "k": 2.0, "alpha": draw(st.sampled_from([1e-4, 0.01]))}
        self.add(kind, params, self.shape)

    def drawn_extra(self, shape: Shape) -> tuple[Any, Shape] | None:
        """A layer entry of one of the extra ops that fits ``shape``, and its output shape."""
        drawn = self.draw(st.sampled_from(self.extra))(self.draw, shape)
        if drawn is None:
            return None
        kind, params = drawn
        return ({kind: params} if params is not None else kind), output_shape(kind, params or {}, [shape])

    def extra_layer(self) -> None:
        drawn = self.drawn_extra(self.shape)
        if drawn is not None:
            self.layers.append(drawn[0])
            self.shape = drawn[1]

    def residual(self) -> None:
        draw = self.draw
        channels = draw(st.integers(1, 6))
        even = self.shape[1] % 2 == 0 and self.shape[2] % 2 == 0
        stride = draw(st.sampled_from([1, 2] if even else [1]))
        out = (channels, self.shape[1] // stride, self.shape[2] // stride)
        body = [{"conv2d": {"channels": channels, "kernel": 3, "stride": stride, "padding": 1}}, "batchnorm2d", "relu",
                {"conv2d": {"channels": channels, "kernel": 3, "padding": 1}}]
        if self.extra and draw(st.booleans()):  # as a squeeze-and-excitation ends a residual branch
            drawn = self.drawn_extra(out)
            if drawn is not None and drawn[1] == out:
                body.append(drawn[0])
        if out == self.shape and draw(st.booleans()):
            mode: Any = draw(st.sampled_from(["identity", "auto"]))
        elif draw(st.booleans()):
            mode = {"shortcut": [{"conv2d": {"channels": channels, "kernel": 1, "stride": stride}}, "batchnorm2d"]}
        else:
            mode = draw(st.sampled_from(["auto", "projection"]))
        self.layers.append({"residual": mode, "body": body})
        self.layers.append("relu")
        self.shape = out

    def fork(self) -> str:
        name = self.fresh("fork")
        self.add("identity", None, self.shape, name=name)
        return name

    def concat(self) -> None:
        draw = self.draw
        source = self.fork()
        names, channels = [], 0
        for _ in range(draw(st.integers(2, 3))):
            name = self.member("branch")
            if draw(st.booleans()):
                width = draw(st.integers(1, 4))
                self.layers.append({"conv2d": {"channels": width, "kernel": draw(st.sampled_from([1, 3])),
                                               "padding": "same"}, "name": name, "inputs": source})
            else:
                width = self.shape[0]
                self.layers.append({"maxpool2d": {"kernel": 3, "stride": 1, "padding": 1}, "name": name,
                                    "inputs": source})
            names.append(name)
            channels += width
        self.layers.append({"concat": names})
        self.shape = (channels, *self.shape[1:])

    def repeat(self) -> None:
        draw = self.draw
        channels = draw(st.integers(1, 5))
        entry: dict[str, Any] = {"repeat": draw(st.integers(1, 3)),
                                 "body": [{"conv2d": {"channels": channels, "kernel": 3, "padding": 1}}, "relu"]}
        if draw(st.booleans()):
            entry["name"] = self.fresh("rep")
        self.layers.append(entry)
        self.shape = (channels, *self.shape[1:])

    def nested_repeat(self) -> None:
        """Repeats in a repeat, with a residual inside each iteration."""
        draw = self.draw
        channels = draw(st.integers(1, 4))

        def conv() -> dict[str, Any]:
            return {"conv2d": {"channels": channels, "kernel": 3, "padding": 1}}

        inner: dict[str, Any] = {"repeat": draw(st.integers(1, 3)), "body": [conv(), "relu"]}
        outer: dict[str, Any] = {"repeat": draw(st.integers(1, 3)), "body": [
            inner, {"residual": draw(st.sampled_from(["identity", "auto"])), "body": [conv(), "batchnorm2d"]}]}
        if draw(st.booleans()):
            outer["name"] = self.fresh("nest")
        if ("name" in outer or outer["repeat"] == 1) and draw(st.booleans()):
            inner["name"] = self.fresh("nest")  # a name in an unnamed repeat would repeat in one scope
        self.layers.append(outer)
        self.shape = (channels, *self.shape[1:])

    def block_call(self) -> None:
        draw = self.draw
        block = draw(st.sampled_from(["unit", "branches"]))
        self.blocks.add(block)
        name = self.member("b")
        if block == "unit":
            channels = draw(st.integers(1, 6))
            stride = draw(st.integers(1, 2))
            self.layers.append({"unit": {"channels": channels, "stride": stride}, "name": name})
            self.shape = output_shape("conv2d", {"channels": channels, "kernel": 3, "stride": stride, "padding": 1},
                                      [self.shape])
            if draw(st.booleans()):
                self.layers.append({draw(st.sampled_from(["add", "concat"])): [name, f"{name}.bn1"]})
                if self.layers[-1].get("concat"):
                    self.shape = (2 * self.shape[0], *self.shape[1:])
        else:
            widths = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
            self.layers.append({"branches": {"widths": widths}, "name": name})
            self.shape = (sum(widths), *self.shape[1:])

    def stage(self) -> None:
        """A named repeat of residual blocks, the first with a stride (a ResNet stage)."""
        draw = self.draw
        self.blocks.add("basic")
        channels = draw(st.integers(1, 6))
        even = self.shape[1] % 2 == 0 and self.shape[2] % 2 == 0
        stride = 2 if even and draw(st.booleans()) else 1
        name = self.fresh("stage")
        self.layers.append({"repeat": draw(st.integers(1, 3)), "name": name,
                            "body": {"basic": {"channels": channels,
                                               "stride": f"${{{stride} if index == 0 else 1}}"}}})
        self.shape = (channels, self.shape[1] // stride, self.shape[2] // stride)
        if draw(st.integers(0, 3)) == 0:
            self.layers.append({"add": [name, f"{name}.0"]})

    def global_pool(self) -> None:
        self.add("global_avgpool", None, (self.shape[0], 1, 1))

    def scaled(self) -> None:
        """Layers sized by spec variables, in ``$expressions``, over the spec's ``defaults``."""
        draw = self.draw
        self.variables.setdefault("width", draw(st.integers(1, 4)))
        self.variables.setdefault("depth", draw(st.integers(1, 2)))
        self.defaults.setdefault("conv2d", {"kernel": 3, "padding": "same", "bias": draw(st.booleans())})
        width = self.variables["width"]
        factor, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        self.add("conv2d", {"channels": f"${{width * {factor}}}", "stride": stride},
                 (width * factor, -(-self.shape[1] // stride), -(-self.shape[2] // stride)))
        self.layers.append({"repeat": "$depth", "body": [{"conv2d": "$width"}, "relu"]})
        self.shape = (width, *self.shape[1:])

    def nested(self) -> None:
        """A block calling blocks, with a block as an argument and its residual perhaps switched off."""
        draw = self.draw
        self.blocks.add("double")
        channels = draw(st.integers(1, 5))
        arguments: dict[str, Any] = {"channels": channels}
        if draw(st.booleans()):
            arguments["skip"] = draw(st.booleans())
        if draw(st.booleans()):
            arguments["pool"] = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
        self.layers.append({"double": arguments, "name": self.fresh("d")})
        self.shape = (channels, *self.shape[1:])

    def gate(self) -> None:
        """A squeeze-and-excitation gate: a pooled [C, 1, 1] branch scales the image (``multiply`` broadcasts)."""
        draw = self.draw
        source = self.fork()
        name = self.fresh("gate")
        self.layers += [{"adaptive_avgpool2d": 1, "inputs": source},
                        {"conv2d": {"channels": draw(st.integers(1, 4)), "kernel": 1}},
                        draw(st.sampled_from(["relu", "silu"])),
                        {"conv2d": {"channels": self.shape[0], "kernel": 1}},
                        {draw(st.sampled_from(["sigmoid", "hardsigmoid"])): None, "name": name}]
        self.layers.append({"multiply": draw(st.permutations([source, name]))})

    def channel_mix(self) -> None:
        """A channel shuffle and/or one chunk of the channels (ShuffleNet's split)."""
        draw = self.draw
        groups = [g for g in (2, 3, 4) if self.shape[0] % g == 0]
        if groups and draw(st.booleans()):
            params: dict[str, Any] = {"groups": draw(st.sampled_from(groups))}
            self.add("channel_shuffle", params, output_shape("channel_shuffle", params, [self.shape]))
        parts = [p for p in (2, 3) if self.shape[0] % p == 0]
        if parts:
            count = draw(st.sampled_from(parts))
            params = {"parts": count, "index": draw(st.integers(0, count - 1))}
            self.add("chunk", params, output_shape("chunk", params, [self.shape]))

    def layer_scale(self) -> None:
        """A learned per-channel scale (ConvNeXt's layer scale) multiplying the image."""
        source = self.fork()
        name = self.fresh("scale")
        self.layers.append({"learned": {"shape": [self.shape[0], 1, 1], "batch_axis": False,
                                        "fill": self.draw(st.sampled_from([0.5, 1e-6]))}, "name": name})
        self.layers.append({"multiply": [source, name]})

    def windowed(self) -> None:
        """Channels-last for a while (Swin's and MaxViT's stages): layer norm, window attention, partition attention,
        patch merging, a linear."""
        draw = self.draw
        channels_last = output_shape("permute", {"axes": [1, 2, 0]}, [self.shape])
        layers: list[Any] = [{"permute": [1, 2, 0]}, {"layer_norm": {"channels_last": True}}]
        shape = channels_last
        heads = [h for h in (1, 2, 3) if shape[-1] % h == 0]
        attention = {"heads": draw(st.sampled_from(heads)), "window": draw(st.integers(1, 4)),
                     "shift": draw(st.integers(0, 1))}
        try:
            shape = output_shape("window_attention", attention, [shape])
            layers.append({"window_attention": attention})
        except (ShapeError, ValueError):
            pass
        sizes = [(h, w) for h in (1, 2, 3) for w in (1, 2, 3) if shape[0] % h == 0 and shape[1] % w == 0]
        if draw(st.booleans()):
            partitioned = {"heads": draw(st.sampled_from(heads)), "size": list(draw(st.sampled_from(sizes))),
                           "partition": draw(st.sampled_from(["window", "grid"])),
                           "scale": draw(st.sampled_from([None, 0.25]))}
            try:
                shape = output_shape("partition_attention", partitioned, [shape])
                layers.append({"partition_attention": {k: v for k, v in partitioned.items() if v is not None}})
            except (ShapeError, ValueError):
                pass
        if draw(st.booleans()):
            merging = {"channels": draw(st.integers(1, 6))}
            try:
                shape = output_shape("patch_merging", merging, [shape])
                layers.append({"patch_merging": merging})
            except (ShapeError, ValueError):
                pass
        linear = {"features": draw(st.integers(1, 6)), "channels_last": True}
        shape = output_shape("linear", linear, [shape])
        layers += [{"linear": linear}, {"permute": [2, 0, 1]}]
        self.layers += layers
        self.shape = output_shape("permute", {"axes": [2, 0, 1]}, [shape])

    def token_head(self) -> None:
        """A ViT-style head: the image as tokens, a learned class token, self-attention, the class token out."""
        draw = self.draw
        channels = self.shape[0]
        patches = self.fresh("patches")
        token = self.fresh("token")
        self.layers += [{"flatten": {"start": 1}}, {"permute": [1, 0], "name": patches},
                        {"learned": {"shape": [1, channels], "std": 0.02}, "name": token},
                        {"concat": [token, patches]}]
        if draw(st.booleans()):
            self.layers.append({"layer_norm": {}})
        self.layers += [{"attention": draw(st.sampled_from([h for h in (1, 2, 3) if channels % h == 0]))},
                        {"select": 0}]
        self.shape = (channels,)

    def head(self) -> None:
        draw = self.draw
        kind = draw(st.sampled_from(["none", "linear", "pooled", "tokens"]))
        if kind == "none":
            return
        if kind == "tokens":
            self.token_head()
            classes = draw(st.integers(1, 10))
            self.add("linear", {"features": classes}, (classes,))
            return
        if kind == "pooled":
            self.add("global_avgpool", None, (self.shape[0], 1, 1))
        self.add("flatten", None, (self.shape[0] * self.shape[1] * self.shape[2],))
        if draw(st.booleans()):
            hidden = draw(st.integers(1, 16))
            self.add("linear", {"features": hidden, "bias": draw(st.booleans())}, (hidden,))
            self.add(draw(st.sampled_from(["relu", "tanh", "dropout"])), None, (hidden,))
        classes = draw(st.integers(1, 10))
        self.add("linear", {"features": classes}, (classes,))


def spec_yaml(document: Document) -> str:
    return yaml.safe_dump(document, sort_keys=False)


def write_document(document: Document, directory: Path | str) -> Path:
    path = Path(directory) / f"{document.get('name', 'net')}.yaml"
    path.write_text(spec_yaml(document), encoding="utf-8")
    return path


def analyse_document(document: Document, **kwargs: Any) -> Graph:
    """Analyse a document through a temporary spec file (as a user's file would be)."""
    with tempfile.TemporaryDirectory() as directory:
        return analyse(str(write_document(document, directory)), **kwargs)
