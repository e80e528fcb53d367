"""The top-level API (archspec/api.py): compile as a library function, build from names or graphs,
reset_parameters as the one initialization path, and its errors for bad use."""

from __future__ import annotations

import pytest
import torch

import archspec
from archspec.errors import UsageError

INIT = """\
archspec: 1
name: initialized
input: [3, 12, 12]
init:
  conv2d: {weight: kaiming_normal, mode: fan_out, bias: zeros}
  linear: {weight: normal, std: 0.02}
layers:
  - conv2d: {channels: 8, kernel: 3}
  - batchnorm2d
  - relu
  - conv2d: {channels: 8, kernel: 3, bias: false}
  - global_avgpool
  - flatten
  - linear: 10
  - linear: 4
"""


def test_compile_writes_what_the_command_writes(tmp_path):
    written = archspec.compile("lenet5", outputs=["py", "dot"], out_dir=tmp_path)
    assert written == [tmp_path / "lenet5.py", tmp_path / "lenet5.dot"]
    graph = archspec.analyse("lenet5")
    from archspec.backends.torch import python_source

    assert (tmp_path / "lenet5.py").read_text() == python_source(graph)
    assert archspec.compile(graph, outputs=("pt",), out_dir=tmp_path, seed=0) == [tmp_path / "lenet5.pt"]
    weights = torch.load(tmp_path / "lenet5.pt", weights_only=True)
    expected = archspec.build(graph, seed=0).state_dict()
    assert all(torch.equal(weights[key], expected[key]) for key in expected)


def test_compile_refuses_unknown_outputs_and_arguments_a_graph_cannot_take(tmp_path):
    with pytest.raises(UsageError, match="unknown output 'tflite'"):
        archspec.compile("lenet5", outputs=["onnx", "tflite"], out_dir=tmp_path)
    with pytest.raises(UsageError, match="not to an analysed Graph"):
        archspec.compile(archspec.analyse("lenet5"), outputs=["py"], out_dir=tmp_path, input_shape=(1, 28, 28))
    assert not list(tmp_path.iterdir())


def test_build_takes_a_name_a_path_or_a_graph(write_spec):
    path = write_spec(INIT)
    by_path = archspec.build(str(path), seed=1).state_dict()
    by_graph = archspec.build(archspec.analyse(str(path)), seed=1).state_dict()
    assert by_path.keys() == by_graph.keys() and all(torch.equal(by_path[k], by_graph[k]) for k in by_path)


@pytest.mark.parametrize("spec", ["init", "resnet18"])
def test_reset_parameters_after_to_empty_equals_build_with_the_same_seed(write_spec, spec):
    source = str(write_spec(INIT)) if spec == "init" else spec
    expected = archspec.build(source, seed=7).state_dict()
    model = archspec.build(source, device="meta")
    model.to_empty(device="cpu")
    archspec.reset_parameters(model, seed=7)
    state = model.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[key], expected[key]) for key in state)
    archspec.reset_parameters(model, seed=8)
    assert not torch.equal(model.state_dict()["conv1.weight"], expected["conv1.weight"])


def test_reset_parameters_leaves_the_callers_random_state_alone(write_spec):
    model = archspec.build(str(write_spec(INIT)), seed=0)
    state = torch.random.get_rng_state()
    archspec.reset_parameters(model, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_reset_parameters_refuses_modules_archspec_did_not_build():
    with pytest.raises(UsageError, match="Linear was not built by archspec"):
        archspec.reset_parameters(torch.nn.Linear(3, 4))
    with pytest.raises(UsageError, match=r"expects a torch\.nn\.Module, got dict"):
        archspec.reset_parameters({"weight": torch.zeros(3)})  # type: ignore[arg-type]


def test_reset_parameters_refuses_parameters_still_on_meta(write_spec):
    model = archspec.build(str(write_spec(INIT)), device="meta")
    with pytest.raises(UsageError, match=r"still on the meta device.*to_empty"):
        archspec.reset_parameters(model, seed=0)
