"""Containers: layers named ``up.0``, ``up.1`` registered in one ``nn.ModuleList`` (or ``nn.ModuleDict``) of the
enclosing module, each run where it is written, between the module's other layers (a U-Net's decoder)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch
from torch import nn

import archspec
from archspec.backends.torch import build_module, write_python_source
from tests.backends.torch.test_source import import_file
from tests.importers.test_torch import TinyUNet

UNET = (Path(__file__).resolve().parents[2] / "data" / "containers" / "tiny_unet.yaml").read_text()

LAYERS = textwrap.dedent("""
    archspec: 1
    name: layers
    input: [3, 8, 8]
    layers:
      - {conv2d: {channels: 8, kernel: 3, padding: 1}, name: convs.1}
      - {relu: {}, name: acts.first}
      - {conv2d: {channels: 8, kernel: 3, padding: 1}, name: convs.0}
      - {add: [convs.1, convs.0], name: sums.0}
      - {relu: {}, name: acts.second}
""")


def test_a_container_of_block_calls_is_a_module_list_called_between_the_joins(write_spec) -> None:
    built = archspec.build(str(write_spec(UNET))).eval()
    assert isinstance(built.up, nn.ModuleList) and len(built.up) == 2 and isinstance(built.down, nn.ModuleList)
    reference = TinyUNet().eval()  # what a person writes: ModuleLists, the decoder's calls between the concatenations
    built.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(built(x), reference(x))


def test_a_container_of_layers_numbered_out_of_order_and_one_of_names(write_spec) -> None:
    built = archspec.build(str(write_spec(LAYERS)))
    assert list(built.state_dict()) == ["convs.0.weight", "convs.0.bias", "convs.1.weight", "convs.1.bias"]
    assert built.convs[0].in_channels == 8 and built.convs[1].in_channels == 3  # convs.1 runs first
    assert isinstance(built.acts, nn.ModuleDict) and list(built.acts) == ["first", "second"]


def test_the_generated_source_indexes_the_containers_and_computes_what_build_does(write_spec, tmp_path: Path) -> None:
    for text, class_name in ((UNET, "TinyUnet"), (LAYERS, "Layers")):
        graph = archspec.analyse(str(write_spec(text)))
        path = write_python_source(graph, tmp_path / f"{graph.name}.py")
        source = path.read_text()
        assert "nn.ModuleList(" in source
        assert ("self.up[0](" in source) if class_name == "TinyUnet" else ("self.acts['first'](" in source)
        network = getattr(import_file(path), class_name)().eval()
        built = build_module(graph, seed=0).eval()
        network.load_state_dict(built.state_dict())
        x = torch.randn(2, *graph.input_shape)
        with torch.no_grad():
            torch.testing.assert_close(network(x), built(x))
