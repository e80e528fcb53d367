"""A plugin op whose PyTorch module breaks its op's promises is reported at build time as the op's fault,
on the layer's line, naming the op's definition: not as a channel mismatch deep inside a later layer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch
from archspec_extra_ops.ops import HardSwish, SqueezeExcite, SqueezeExciteParams

import archspec
from archspec import TorchLayer
from archspec.backends.torch import build_module
from archspec.backends.torch.checks import plugin_layers
from archspec.errors import SpecError
from archspec.ops.base import Shape
from tests.conftest import REPO
from tests.plugins.conftest import SE_RESNET

pytestmark = pytest.mark.usefixtures("extra_ops")


class WideningSE(SqueezeExcite):
    """Claims to double the channels; its module keeps them."""

    kind = "widening_se"

    def output_shape(self, params: SqueezeExciteParams, inputs: Sequence[Shape]) -> Shape:
        channels, height, width = super().output_shape(params, inputs)
        return (2 * channels, height, width)


class MiscountedSE(SqueezeExcite):
    kind = "miscounted_se"

    def parameter_count(self, params: SqueezeExciteParams, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * inputs[0][0] * self.hidden(params, inputs[0][0])  # forgets the biases


class Shuffling(HardSwish):
    """A torch layer that cannot take the shapes its shape rule accepts."""

    kind = "bad_shuffle"

    def torch_layer(self, params: object, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.PixelShuffle", (3,))


class Pair(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x


class Splitting(HardSwish):
    kind = "splitting"

    def torch_layer(self, params: object, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer(f"{__name__}.Pair")


@pytest.fixture(scope="module", autouse=True)
def faulty_ops() -> Iterator[None]:
    ops = (WideningSE, MiscountedSE, Shuffling, Splitting)
    for op in ops:
        archspec.register_op(op)
    yield
    for op in ops:
        archspec.unregister_op(op.kind)


def spec(write_spec, layer: str) -> Path:
    return write_spec(f"archspec: 1\nname: net\ninput: [6, 8, 8]\nlayers:\n  - conv2d: {{channels: 8, kernel: 3}}\n"
                      f"  - {layer}\n  - conv2d: {{channels: 4, kernel: 1}}\n  - global_avgpool\n")


@pytest.mark.parametrize(("layer", "message", "disagreeing"), [
    ("widening_se", "layer 'se1' (widening_se): its PyTorch module (SqueezeExcite) produced [8, 6, 6], but "
                    "the op's shape rule says [16, 6, 6]", "its output_shape and the module its torch_layer builds"),
    ("miscounted_se", "layer 'se1' (miscounted_se): its PyTorch module (SqueezeExcite) has 42 parameters, but the "
                      "op's parameter_count says 32", "its parameter_count and the module its torch_layer builds"),
    ("bad_shuffle", "layer 'hswish1' (bad_shuffle): its PyTorch module's forward raised RuntimeError: ",
     "its torch_layer builds a module that fails on inputs"),
    ("splitting", "layer 'hswish1' (splitting): its PyTorch module returned tuple, not a tensor",
     "the module its torch_layer builds must return one tensor"),
])
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_a_module_breaking_its_ops_promise_is_the_ops_fault(write_spec, layer: str, message: str, disagreeing: str,
                                                             device: str) -> None:
    path = spec(write_spec, layer)
    with pytest.raises(SpecError) as raised:
        archspec.build(str(path), device=device)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message.startswith(message)
    assert diagnostic.location is not None and diagnostic.location.line == 6
    definition = f"this is a fault in the definition of op '{layer}' ({__name__}."
    assert diagnostic.notes[0].startswith(definition) and disagreeing in diagnostic.notes[0]


def test_layers_sharing_a_fault_are_reported_once(write_spec) -> None:
    path = write_spec("archspec: 1\nname: net\ninput: [8, 4, 4]\nlayers: [miscounted_se, relu, miscounted_se, "
                      "miscounted_se]\n")
    with pytest.raises(SpecError) as raised:
        archspec.build(str(path))
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.notes[-1] == "2 more layers of op 'miscounted_se' disagree the same way"


def test_the_check_leaves_the_model_as_built() -> None:
    """The check runs in eval mode without gradients: modes and batch-norm statistics are untouched."""
    model = archspec.build(str(SE_RESNET), seed=0)
    assert all(module.training for module in model.modules())
    assert torch.equal(model.bn1.running_mean, torch.zeros(16)) and int(model.bn1.num_batches_tracked) == 0
    assert all(p.grad is None for p in model.parameters())


def test_only_plugin_layers_are_checked() -> None:
    graph = archspec.analyse(str(SE_RESNET))
    checked = {node.op for node in plugin_layers(graph)}
    assert checked == {"squeeze_excite", "h_swish"}
    lenet = archspec.analyse("lenet5")
    assert plugin_layers(lenet) == []
    assert build_module(lenet, seed=0) is not None


def test_the_cli_reports_the_fault_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "wrong_ops.py").write_text(textwrap.dedent("""
        from archspec import register_op
        from archspec_extra_ops.ops import SqueezeExcite

        class WideningSE(SqueezeExcite):
            kind = "widening_se"

            def output_shape(self, params, inputs):
                channels, height, width = inputs[0]
                return (2 * channels, height, width)

        register_op(WideningSE)
    """))
    path = tmp_path / "net.yaml"
    path.write_text("archspec: 1\nname: net\nplugins: [wrong_ops]\ninput: [6, 8, 8]\nlayers:\n"
                    "  - conv2d: {channels: 8, kernel: 3}\n  - widening_se\n  - conv2d: {channels: 4, kernel: 1}\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "archspec", "compile", str(path), "--onnx", "--pt", "-q", "-o", str(out),
         "--plugin", "wrong_ops"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "net.yaml:7:5: error: layer 'se1' (widening_se): its PyTorch module (SqueezeExcite) produced "
        "[8, 6, 6], but the op's shape rule says [16, 6, 6]")
    assert "fault in the definition of op 'widening_se' (wrong_ops.WideningSE)" in result.stderr
    assert not out.exists()
