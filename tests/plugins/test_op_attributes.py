"""A plugin op takes part in everything a built-in op does, through the same attributes and methods:
how a volume figure writes it (``volume_label``) and which tensors the generated PyTorch code may
overwrite in place (``owns_output``, ``torch_inplace_layer``, ``torch_inplace_operator``).  An op
that sets none of them keeps the safe defaults."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import torch

import archspec
from archspec.backends.torch import build_module, python_source
from archspec.backends.volumes.labels import op_text
from archspec.ops import Op, OpParams, Shape, Size, TorchLayer


class PointwiseParams(OpParams):
    channels: Size
    """Output channels."""


class Pointwise(Op[PointwiseParams]):
    """A 1×1 convolution that says nothing about its output (the defaults)."""

    kind = "pointwise"
    Params = PointwiseParams
    shorthand = "channels"

    def output_shape(self, params: PointwiseParams, inputs: Sequence[Shape]) -> Shape:
        return (params.channels, *inputs[0][1:])

    def torch_layer(self, params: PointwiseParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Conv2d", (inputs[0][0], params.channels, 1))


class OwningPointwise(Pointwise):
    """The same, saying that its output is a fresh tensor its backward pass does not keep."""

    kind = "owning_pointwise"
    owns_output = True

    def volume_label(self, params: PointwiseParams, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        return ("pointwise", f"{inputs[0][0]}→{params.channels}")


class Clip(Op[OpParams]):
    """ReLU6, whose layer takes ``inplace=True``."""

    kind = "clip"
    family = "activation"
    torch_inplace_layer = True

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.ReLU6")


class Difference(Op[OpParams]):
    """A join written as an expression that may accumulate into its first input with ``-=``."""

    kind = "difference"
    shorthand = "inputs"
    min_inputs = max_inputs = 2
    family = "join"
    owns_output = True
    torch_inplace_operator = "-="

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "-"

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def torch_expression(self, params: OpParams, arguments: Sequence[str]) -> str:
        return f"{arguments[0]} - {arguments[1]}"


class BrokenLabel(Pointwise):
    kind = "broken_label"

    def volume_label(self, params: PointwiseParams, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        raise ZeroDivisionError("division by zero")


OPS = (Pointwise, OwningPointwise, Clip, Difference, BrokenLabel)


@pytest.fixture(scope="module", autouse=True)
def attribute_ops() -> Iterator[None]:
    for op in OPS:
        archspec.register_op(op)
    yield
    for op in OPS:
        archspec.unregister_op(op.kind)


def analysed(write_spec, layers: str) -> archspec.Graph:
    return archspec.analyse(str(write_spec(f"archspec: 1\nname: attributes\ninput: [3, 8, 8]\nlayers:\n{layers}")))


def test_defaults_are_the_safe_choice() -> None:
    op = Pointwise()
    assert (op.owns_output, op.torch_inplace_layer, op.torch_inplace_operator) == (False, False, None)
    assert op.volume_label(PointwiseParams(channels=4), [(3, 8, 8)], (4, 8, 8)) == ("pointwise",)


def test_owns_output_lets_the_next_layer_work_in_place(write_spec) -> None:
    owning = python_source(analysed(write_spec, "  - owning_pointwise: 4\n  - relu\n"))
    plain = python_source(analysed(write_spec, "  - pointwise: 4\n  - relu\n"))
    assert "nn.ReLU(inplace=True)" in owning
    assert "nn.ReLU()" in plain and "inplace" not in plain


def test_torch_inplace_layer_is_passed_to_the_plugin_layer(write_spec) -> None:
    graph = analysed(write_spec, "  - conv2d: {channels: 4, kernel: 3}\n  - clip\n")
    assert "ReLU6(inplace=True)" in python_source(graph)
    model = build_module(graph, seed=0)
    output = model(torch.randn(2, 3, 8, 8))
    assert output.shape == (2, 4, 6, 6) and float(output.detach().max()) <= 6.0
    output.sum().backward()  # the in-place layer keeps autograd intact


def test_torch_inplace_operator_accumulates_into_the_first_input(write_spec) -> None:
    layers = ("  - {conv2d: {channels: 4, kernel: 1}, name: a}\n"
              "  - {conv2d: {channels: 4, kernel: 1}, name: b, inputs: input}\n"
              "  - difference: [a, b]\n")
    graph = analysed(write_spec, layers)
    source = python_source(graph)
    assert " -= " in source
    model = build_module(graph, seed=0)
    x = torch.randn(2, 3, 8, 8)
    expected = model.a(x) - model.b(x)
    torch.testing.assert_close(model(x), expected)
    model(x).sum().backward()


def test_volume_label_writes_the_plugin_op_on_its_arrow(write_spec) -> None:
    graph = analysed(write_spec, "  - owning_pointwise: 4\n  - pointwise: 2\n")
    assert op_text(graph, graph.node("owning_pointwise1")) == ("pointwise", "3→4")
    assert op_text(graph, graph.node("pointwise1")) == ("pointwise",)


def test_a_failing_volume_label_is_the_op_s_fault_on_its_line(write_spec) -> None:
    graph = analysed(write_spec, "  - broken_label: 4\n")
    with pytest.raises(archspec.SpecError) as failure:
        op_text(graph, graph.node("broken_label1"))
    text = str(failure.value)
    assert "the op's volume_label raised ZeroDivisionError" in text and ":5:" in text
    assert "fault in the definition of op 'broken_label'" in text
