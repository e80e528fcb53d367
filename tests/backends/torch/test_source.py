"""The generated source: golden files, standalone use, formatting, shared classes."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import archspec
from archspec.backends.torch import build_module, python_source, write_python_source
from tests.strategies import analyse_document, specs

GOLDEN = ["lenet5", "alexnet_paper", "nin", "vgg16", "resnet18", "resnet50"]
RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")


@pytest.mark.parametrize("name", GOLDEN)
def test_generated_source_of_builtin_specs(name, golden):
    golden(f"torch/{name}.py", python_source(archspec.analyse(name)))


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add((node.module or "").split(".")[0])
    return found


@pytest.mark.parametrize("name", ["resnet18", "nin"])
def test_the_written_file_is_standalone_and_computes_what_build_does(tmp_path, name):
    graph = archspec.analyse(name, input_shape=(3, 64, 64) if name == "resnet18" else None)
    path = write_python_source(graph, tmp_path / f"{name}.py")
    assert imported_modules(path.read_text()) <= {"torch", "collections"}
    standalone = import_file(path)
    network = getattr(standalone, "Resnet18" if name == "resnet18" else "Nin")()
    built = build_module(graph, seed=0)
    network.load_state_dict(built.state_dict())
    inputs = torch.randn(2, *graph.input_shape)
    built.eval()
    network.eval()
    with torch.no_grad():
        torch.testing.assert_close(network(inputs), built(inputs))


def test_archspecs_own_layers_are_copied_in_so_the_file_needs_only_pytorch(tmp_path):
    from tests.pipeline.test_pipeline_fuzz import EVERY_OP

    graph = analyse_document(EVERY_OP)
    path = write_python_source(graph, tmp_path / "every_op.py")
    source = path.read_text()
    assert imported_modules(source) <= {"torch", "collections", "math"}
    assert "It needs only PyTorch" in source
    for name in ("Learned", "ChannelLayerNorm", "WindowAttention", "PartitionAttention", "PatchMerging"):
        assert f"\nclass {name}(" in source
    network = import_file(path).EveryOp()
    built = build_module(graph, seed=0)
    network.load_state_dict(built.state_dict())
    assert list(network.state_dict()) == list(built.state_dict())
    inputs = torch.randn(2, *graph.input_shape)
    built.eval()
    network.eval()
    with torch.no_grad():
        torch.testing.assert_close(network(inputs), built(inputs))


@pytest.mark.skipif(not Path(RUFF).exists(), reason="ruff is not installed")
def test_generated_source_is_formatted_and_lint_clean(tmp_path):
    for name in ("resnet152", "vgg19", "alexnet", "plain34", "vit_b_16", "swin_v2_t", "convnext_tiny", "maxvit_t"):
        write_python_source(archspec.analyse(name), tmp_path / f"{name}.py")
    formatted = subprocess.run([RUFF, "format", "--check", "--line-length", "100", str(tmp_path)],
                               capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = subprocess.run([RUFF, "check", "--line-length", "100", "--select", "E,F,W,I,UP,B", str(tmp_path)],
                            capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=specs())
def test_random_specs_give_valid_python(document):
    source = python_source(analyse_document(document))
    compile(source, "<generated>", "exec")
    assert imported_modules(source) <= {"torch", "collections"}


def test_blocks_share_a_class_whose_parameters_are_the_block_arguments():
    resnet = python_source(archspec.analyse("resnet50"))
    assert resnet.count("class ") == 2 and "class Bottleneck(nn.Module):" in resnet
    assert "self, in_channels: int, channels: int, stride: int, shortcut: bool = False" in resnet
    assert "nn.Conv2d(channels, channels * 4, kernel_size=1, bias=False)" in resnet
    assert "Bottleneck(256, 128, stride=2, shortcut=True)," in resnet
    nin = python_source(archspec.analyse("nin"))
    assert "nn.Conv2d(in_channels, channels[0], kernel_size=kernel, padding=kernel // 2)" in nin
    assert "Mlpconv(96, [192, 192, 192], kernel=5)" in nin


def test_the_source_is_what_build_executes():
    import inspect

    model = archspec.build("resnet18", device="meta")
    assert inspect.getsource(type(model)) in python_source(archspec.analyse("resnet18"))


def test_control_characters_in_a_long_description_survive_wrapping(write_spec):
    """Found by the pipeline fuzzer: escaping before wrapping split an escape (\\x1f) across two lines."""


    description = "0" * 17 + "\x1f" * 8 + "0" * 16 + "\x1f" * 30 + 'x\\y """ end'
    path = write_spec(f"archspec: 1\nname: net\ninput: [3, 8, 8]\ndescription: {json.dumps(description)}\n"
                      "layers: [relu]\n")
    source = python_source(archspec.analyse(str(path)))
    compile(source, "generated", "exec")
    assert "\\x1f" in source and "'''" in source


def test_a_parameter_named_after_a_numbered_layer_is_an_identifier(write_spec):
    """A value that differs between a block's calls and is no block argument becomes a constructor parameter named
    after its layer: for a layer named '0' (a Sequential's child, as imported) the name once began with a digit,
    and the writer appended underscores forever."""
    path = write_spec("archspec: 1\nname: net\ninput: [3, 8, 8]\n"
                      "blocks:\n  norm:\n    body:\n      - {layer_norm: {channels_last: true}, name: '0'}\n"
                      "layers:\n  - permute: [1, 2, 0]\n  - norm\n  - linear: {features: 4, channels_last: true}\n"
                      "  - norm\n")
    source = python_source(archspec.analyse(str(path)))
    assert "def __init__(self, layer_0_normalized_shape: int) -> None:" in source
    compile(source, "generated", "exec")
