"""Differential test on random specs: every export is checked and equals torch, or fails cleanly.

Specs are drawn layer by layer, each layer's parameters chosen to fit the current shape (using the
op's own shape rule), so almost every draw is a valid network: convolutions with every padding
style (asymmetric ``same`` included), pools with ``ceil_mode``, adaptive pools of uneven windows,
LRN, batch norm, each activation, residuals with projections, concatenated branches, linear heads.
An LRN of even size, or a softmax over an image below opset 13, must fail with a located error
naming the layer and leave no file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.backends.onnx import write_onnx
from archspec.backends.onnx.lowering import newest_opset
from archspec.errors import SpecError
from archspec.graph.lower import analyse
from archspec.ops.base import Shape, ShapeError
from archspec.ops.registry import get_op
from tests.backends.onnx.onnx_roundtrip import build, export_and_compare

OPSETS = (11, 13, 17, 18, 20, newest_opset())
ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "softmax", "dropout", "identity")


@dataclass
class RandomSpec:
    layers: list[Any] = field(default_factory=list)
    input_shape: Shape = ()
    softmax_on_images: list[str] = field(default_factory=list)
    even_lrns: list[str] = field(default_factory=list)
    counter: int = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def failing_layers(self, opset: int) -> list[str]:
        return self.even_lrns + (self.softmax_on_images if opset < 13 else [])

    def document(self) -> dict[str, Any]:
        return {"archspec": 1, "name": "random", "input": list(self.input_shape), "layers": self.layers}


def fits(kind: str, params: dict[str, Any], shape: Shape) -> Shape | None:
    """The op's output shape for these parameters, or None if they do not fit ``shape``."""
    op = get_op(kind)
    assert op is not None
    try:
        return op.output_shape(op.Params(**params), [shape])
    except (ShapeError, ValueError):
        return None


def draw_conv(draw: st.DrawFn, shape: Shape, padding: Any = None, stride: int | None = None) -> dict[str, Any]:
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if shape[0] % g == 0]))
    return {
        "channels": groups * draw(st.integers(1, 3)),
        "kernel": draw(st.sampled_from([1, 2, 3, 4, [1, 3], [3, 2]])),
        "stride": stride if stride is not None else draw(st.sampled_from([1, 1, 2, 3, [1, 2]])),
        "padding": padding if padding is not None else draw(st.sampled_from([0, 1, 2, "same", "valid", [0, 1]])),
        "dilation": draw(st.sampled_from([1, 1, 2])),
        "groups": groups,
        "bias": draw(st.booleans()),
    }


def draw_pool(draw: st.DrawFn, average: bool) -> dict[str, Any]:
    kernel = draw(st.sampled_from([1, 2, 3, 3, [2, 3]]))
    smallest = kernel if isinstance(kernel, int) else min(kernel)
    params = {
        "kernel": kernel,
        "stride": draw(st.sampled_from([None, 1, 2, 2, 3, [2, 1]])),
        "padding": draw(st.integers(0, smallest // 2)),
        "ceil_mode": draw(st.booleans()),
    }
    if average:
        params["count_include_pad"] = draw(st.booleans())
    return {key: value for key, value in params.items() if value is not None}


def draw_image_layer(draw: st.DrawFn, spec: RandomSpec, shape: Shape) -> Shape:
    """Append one layer (or construct) that fits ``shape`` to the spec; returns the new shape."""
    kind = draw(st.sampled_from(["conv2d", "conv2d", "maxpool2d", "avgpool2d", "avgpool2d", "adaptive_avgpool2d",
                                 "batchnorm2d", "lrn", "activation", "leaky_relu", "residual", "branches"]))
    entry: Any
    if kind == "conv2d":
        params = draw_conv(draw, shape)
    elif kind in ("maxpool2d", "avgpool2d"):
        params = draw_pool(draw, kind == "avgpool2d")
    elif kind == "adaptive_avgpool2d":
        params = {"size": draw(st.sampled_from([1, 2, 3, [2, 5], [shape[1], shape[2]], [shape[1] // 2 or 1, 3]]))}
    elif kind == "batchnorm2d":
        params = {"affine": draw(st.booleans()), "eps": draw(st.sampled_from([1e-5, 1e-3]))}
    elif kind == "lrn":
        params = {"size": draw(st.integers(1, 6)), "alpha": draw(st.sampled_from([1e-4, 0.01])),
                  "beta": draw(st.sampled_from([0.75, 0.5])), "k": draw(st.sampled_from([1.0, 2.0]))}
    elif kind == "leaky_relu":
        params = {"slope": draw(st.sampled_from([0.01, 0.2]))}
    elif kind == "activation":
        activation = draw(st.sampled_from(ACTIVATIONS))
        if activation == "softmax":
            spec.softmax_on_images.append(name := spec.fresh("softmax"))
            spec.layers.append({"softmax": None, "name": name})
        else:
            spec.layers.append(activation)
        return shape
    elif kind == "residual":
        return draw_residual(draw, spec, shape)
    else:
        return draw_branches(draw, spec, shape)
    output = fits(kind, params, shape)
    if output is None:
        return shape
    entry = {kind: params}
    if kind == "lrn" and params["size"] % 2 == 0:
        spec.even_lrns.append(name := spec.fresh("lrn"))
        entry["name"] = name
    spec.layers.append(entry)
    return output


def draw_residual(draw: st.DrawFn, spec: RandomSpec, shape: Shape) -> Shape:
    """A residual whose body keeps the shape (identity shortcut) or strides/widens it (projection)."""
    body: list[Any] = []
    current = shape
    for _ in range(draw(st.integers(1, 2))):
        params = draw_conv(draw, current, padding="same", stride=draw(st.sampled_from([1, 1, 2])))
        params["dilation"] = 1
        output = fits("conv2d", params, current)
        if output is None:
            continue
        body += [{"conv2d": params}, "batchnorm2d"]
        current = output
    whole_strides = all(before % after == 0 for before, after in zip(shape[1:], current[1:], strict=True))
    if not body or not whole_strides:
        return shape
    spec.layers.append({"residual": "auto", "body": body})
    return current


def draw_branches(draw: st.DrawFn, spec: RandomSpec, shape: Shape) -> Shape:
    """Two branches from one layer, joined by concat (channels) or add (same shape)."""
    fork, left, right = spec.fresh("fork"), spec.fresh("left"), spec.fresh("right")
    channels = draw(st.integers(1, 4))
    spec.layers += [
        {"identity": None, "name": fork},
        {"conv2d": {"channels": channels, "kernel": 3, "padding": "same"}, "name": left},
    ]
    if draw(st.booleans()):
        spec.layers += [{"maxpool2d": {"kernel": 3, "stride": 1, "padding": 1}, "name": right, "inputs": [fork]},
                        {"concat": [left, right]}]
        return (channels + shape[0], *shape[1:])
    spec.layers += [{"conv2d": {"channels": channels, "kernel": 1}, "name": right, "inputs": [fork]},
                    {"add": [left, right, left]}]
    return (channels, *shape[1:])


@st.composite
def random_specs(draw: st.DrawFn) -> RandomSpec:
    spec = RandomSpec()
    if draw(st.integers(0, 9)) == 0:  # a flat input: a multilayer perceptron
        spec.input_shape = (draw(st.integers(1, 12)),)
        spec.layers = [{"linear": {"features": draw(st.integers(1, 8)), "bias": draw(st.booleans())}}]
        spec.layers += draw(st.lists(st.sampled_from([*ACTIVATIONS, {"linear": 5}]), max_size=3))
        return spec
    spec.input_shape = (draw(st.integers(1, 4)), draw(st.integers(3, 16)), draw(st.integers(3, 16)))
    shape = spec.input_shape
    for _ in range(draw(st.integers(1, 6))):
        shape = draw_image_layer(draw, spec, shape)
    head = draw(st.sampled_from(["none", "gap", "linear", "linear"]))
    if head == "gap":
        spec.layers += ["global_avgpool", "flatten"]
    elif head == "linear":
        spec.layers += ["flatten", {"linear": {"features": draw(st.integers(1, 10)), "bias": draw(st.booleans())}}]
        spec.layers += draw(st.lists(st.sampled_from(["relu", "softmax", "tanh"]), max_size=1))
    if not spec.layers:
        spec.layers = ["identity"]
    return spec


def check_random_spec(spec: RandomSpec, opset: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        source = directory / "random.yaml"
        source.write_text(yaml.safe_dump(spec.document(), sort_keys=False))
        graph = analyse(str(source))
        failing = spec.failing_layers(opset)
        if not failing:
            export_and_compare(graph, directory, opset=opset, batches=(1, 3))
            return
        out = directory / "out"
        with pytest.raises(SpecError) as raised:
            write_onnx(graph, build(graph), out / "random.onnx", opset=opset)
        assert len(raised.value.diagnostics) == len(failing)
        for diagnostic in raised.value.diagnostics:
            assert diagnostic.location is not None and diagnostic.location.path == str(source)
        message = raised.value.format()
        assert all(f"layer '{name}'" in message for name in failing)
        assert not out.exists() or not any(out.iterdir())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs(), opset=st.sampled_from(OPSETS))
def test_random_specs_export_faithfully(spec: RandomSpec, opset: int) -> None:
    check_random_spec(spec, opset)


@pytest.mark.fuzz
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs(), opset=st.sampled_from(OPSETS))
def test_random_specs_export_faithfully_long(spec: RandomSpec, opset: int) -> None:
    check_random_spec(spec, opset)
