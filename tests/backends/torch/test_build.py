"""Building modules: names and order, initialization, seeds, devices, compilation, training, errors."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch

import archspec
from archspec.api import build
from archspec.backends.torch import build_module, network_class
from archspec.errors import ArchspecError, SpecError, UsageError
from archspec.spec.builtin import builtin_spec_names

RESIDUAL = """
archspec: 1
name: residual_net
input: [3, 16, 16]
defaults:
  conv2d: {bias: false}
init:
  conv2d: {weight: kaiming_normal, mode: fan_out}
blocks:
  basic:
    params: {channels: int, stride: {type: int, default: 1}}
    body:
      - residual: auto
        body:
          - conv2d: {channels: $channels, kernel: 3, stride: $stride, padding: 1}
          - batchnorm2d
          - relu
          - conv2d: {channels: $channels, kernel: 3, padding: 1}
          - batchnorm2d
      - relu
layers:
  - conv2d: {channels: 8, kernel: 3, padding: 1}
  - batchnorm2d
  - relu
  - {repeat: 2, name: layer1, body: {basic: {channels: 8}}}
  - {repeat: 2, name: layer2, body: {basic: {channels: 16, stride: "${2 if index == 0 else 1}"}}}
  - {identity: null, name: fork}
  - {conv2d: {channels: 4, kernel: 1}, name: left}
  - {conv2d: {channels: 4, kernel: 2, padding: same}, name: right, inputs: fork}
  - {concat: [left, right, layer2.0]}
  - global_avgpool
  - flatten
  - linear: 10
"""


@pytest.fixture
def residual_graph(write_spec):
    return archspec.analyse(str(write_spec(RESIDUAL)))


def test_state_dict_keys_are_the_ir_names_in_declaration_order():
    graph = archspec.analyse("resnet18")
    keys = list(build_module(graph, device="meta").state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked"]
    assert "layer2.0.shortcut.conv.weight" in keys and "layer3.1.conv2.weight" in keys
    owners = list(dict.fromkeys(key.rsplit(".", 1)[0] for key in keys))
    assert owners == [node.name for node in graph.layers if node.op in ("conv2d", "batchnorm2d", "linear")]


@pytest.mark.parametrize("name", builtin_spec_names())
def test_parameter_count_and_names_of_every_builtin(name):
    graph = archspec.analyse(name)
    model = build_module(graph, device="meta")
    assert sum(p.numel() for p in model.parameters()) == graph.parameters
    layer_names = {node.name for node in graph.layers}
    # a tensor is named after its layer; a layer with parts of its own (attention's out_proj) adds their names
    assert all(any(".".join(key.split(".")[:end]) in layer_names for end in range(1, key.count(".") + 1))
               for key in model.state_dict())


def test_meta_device_builds_the_structure_without_memory_or_initialization():
    model = build("resnet152", device="meta")
    assert all(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert sum(p.numel() for p in model.parameters()) == archspec.analyse("resnet152").parameters
    out = model(torch.empty(2, 3, 224, 224, device="meta"))
    assert out.shape == (2, 1000) and out.is_meta


def test_seed_makes_weights_reproducible_and_leaves_the_global_generator_alone(residual_graph):
    state = torch.random.get_rng_state()
    first = build_module(residual_graph, seed=3).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    second = build_module(residual_graph, seed=3).state_dict()
    other = build_module(residual_graph, seed=4).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["conv1.weight"], other["conv1.weight"])


def test_initialization_follows_the_spec():
    model = build("vgg16", seed=0)
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            fan_out = module.out_channels * module.kernel_size[0] * module.kernel_size[1]
            assert module.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.1)
            assert module.bias is not None and not module.bias.any()
        elif isinstance(module, torch.nn.Linear):
            assert module.weight.std().item() == pytest.approx(0.01, rel=0.05)
            assert not module.bias.any()


def test_batch_norm_is_one_and_zero_and_unnamed_ops_keep_torch_defaults(residual_graph):
    model = build_module(residual_graph, seed=0)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in norms)
    assert all(bool((m.running_var == 1).all() and (m.running_mean == 0).all()) for m in norms)
    fc = model.fc1
    bound = 1 / math.sqrt(fc.in_features)
    assert fc.bias.abs().max().item() <= bound and fc.bias.abs().max().item() > 0
    assert fc.weight.abs().max().item() <= bound


def test_the_class_alone_initializes_like_build(residual_graph):
    """Calling the generated class (as the --py file is used) applies the same schemes."""
    torch.manual_seed(0)
    model = network_class(residual_graph)()
    conv = model.layer2[0].conv1
    fan_out = conv.out_channels * 9
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.25)
    built = build_module(residual_graph, seed=0)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in built.state_dict().items()}


def test_print_reads_like_a_hand_written_model():
    text = str(build("resnet18", device="meta"))
    assert text.startswith("Resnet18(\n  (conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3)")
    assert "(layer1): Sequential(\n    (0): Basic(" in text
    assert "(relu1): ReLU(inplace=True)" in text
    assert "(shortcut): Sequential(\n        (conv): Conv2d(64, 128, kernel_size=(1, 1), stride=(2, 2)" in text


def _outputs_agree(model: torch.nn.Module, other, inputs: torch.Tensor) -> None:
    with torch.no_grad():
        expected = model(inputs)
        actual = other(inputs)
    torch.testing.assert_close(actual, expected)


def test_torch_compile_fullgraph_has_no_graph_breaks(residual_graph):
    model = build_module(residual_graph, seed=0).eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    _outputs_agree(model, compiled, torch.randn(2, 3, 16, 16))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_compile_with_inductor():
    model = build("lenet5", seed=0).eval()
    _outputs_agree(model, torch.compile(model, fullgraph=True), torch.randn(2, 1, 32, 32))


def test_torch_export(residual_graph):
    model = build_module(residual_graph, seed=0).eval()
    inputs = torch.randn(2, 3, 16, 16)
    exported = torch.export.export(model, (inputs,))
    _outputs_agree(model, exported.module(), inputs)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torch_jit_script(residual_graph):
    model = build_module(residual_graph, seed=0).eval()
    _outputs_agree(model, torch.jit.script(model), torch.randn(2, 3, 16, 16))


def test_lenet5_trains_and_its_loss_falls():
    torch.manual_seed(0)
    model = build("lenet5", seed=0)
    images, labels = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_residual_network_trains_with_in_place_layers(residual_graph):
    model = build_module(residual_graph, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,))
    first = None
    for _ in range(10):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first


def test_builds_from_a_path_a_name_or_a_loaded_spec_with_overrides(write_spec):
    by_name = build("lenet5", variables={"classes": 3}, device="meta")
    assert by_name.fc3.out_features == 3
    loaded = archspec.load("resnet18")
    small = build(loaded, input_shape=(3, 64, 64), variables={"classes": 7}, device="meta")
    assert small(torch.empty(1, 3, 64, 64, device="meta")).shape == (1, 7)


@pytest.mark.parametrize("name", ["forward", "training", "lambda", "parameters"])
def test_layer_names_that_cannot_be_attributes_are_spec_errors(write_spec, name):
    path = write_spec(textwrap.dedent(f"""
        archspec: 1
        name: net
        input: [3, 8, 8]
        layers:
          - {{conv2d: 4, kernel: 3, name: {name}}}
          - relu
    """).replace("{conv2d: 4, kernel: 3,", "{conv2d: {channels: 4, kernel: 3},"))
    with pytest.raises(SpecError) as caught:
        build(str(path))
    assert f"'{name}' cannot name a PyTorch submodule" in str(caught.value)
    assert caught.value.diagnostics[0].location is not None


def test_unknown_device_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown torch device 'gpu7'"):
        build("lenet5", device="gpu7")


def test_memory_limit_is_checked_before_allocating(monkeypatch):
    monkeypatch.setenv("ARCHSPEC_MEMORY_LIMIT", "1MB")
    with pytest.raises(SpecError, match="memory limit"):
        build("vgg16")
    assert build("vgg16", device="meta") is not None


class Scale(torch.nn.Module):
    """A user's layer, outside torch.nn: multiplies by a learned per-channel factor."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.factor = torch.nn.Parameter(torch.full((channels, 1, 1), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


@pytest.fixture
def scale_op():
    from archspec.ops.base import Op, OpParams, TorchLayer

    class ScaleOp(Op[OpParams]):
        kind = "scale"
        description = "per-channel scale (a test plugin)"

        def output_shape(self, params, inputs):
            return inputs[0]

        def parameter_count(self, params, inputs, output):
            return inputs[0][0]

        def torch_layer(self, params, inputs, output):
            return TorchLayer(f"{__name__}.Scale", (inputs[0][0],))

    archspec.register_op(ScaleOp)
    yield
    archspec.unregister_op("scale")


def test_a_plugin_layer_is_built_and_imported_by_the_source(write_spec, scale_op):
    path = write_spec("archspec: 1\nname: net\ninput: [3, 8, 8]\nlayers: [{conv2d: {channels: 4, kernel: 3}}, scale]\n")
    graph = archspec.analyse(str(path))
    model = build_module(graph, seed=0)
    assert isinstance(model.scale1, Scale) and bool((model.scale1.factor == 2).all())
    from archspec.backends.torch import python_source

    assert f"from {__name__} import Scale" in python_source(graph)


def test_a_layer_class_that_cannot_be_imported_is_reported(write_spec):
    from archspec.ops.base import Op, OpParams, TorchLayer

    class Broken(Op[OpParams]):
        kind = "broken_layer"

        def output_shape(self, params, inputs):
            return inputs[0]

        def torch_layer(self, params, inputs, output):
            return TorchLayer("no_such_module.Layer")

    archspec.register_op(Broken)
    try:
        path = write_spec("archspec: 1\nname: net\ninput: [3, 8, 8]\nlayers: [broken_layer]\n")
        with pytest.raises(UsageError, match=r"cannot import the layer class 'no_such_module\.Layer'"):
            build(str(path))
    finally:
        archspec.unregister_op("broken_layer")


def test_a_failing_layer_constructor_is_an_archspec_error(write_spec, monkeypatch):
    monkeypatch.setattr(Scale, "__init__", lambda self, channels: (_ for _ in ()).throw(ValueError("bad")))
    from archspec.ops.base import Op, OpParams, TorchLayer

    class Failing(Op[OpParams]):
        kind = "failing_layer"

        def output_shape(self, params, inputs):
            return inputs[0]

        def torch_layer(self, params, inputs, output):
            return TorchLayer(f"{__name__}.Scale", (inputs[0][0],))

    archspec.register_op(Failing)
    try:
        path = write_spec("archspec: 1\nname: net\ninput: [3, 8, 8]\nlayers: [failing_layer]\n")
        with pytest.raises(ArchspecError, match="constructing net failed: ValueError: bad"):
            build(str(path))
    finally:
        archspec.unregister_op("failing_layer")


POST_NORM = """\
archspec: 1
name: post_norm_net
input: [3, 8, 8]
blocks:
  post_norm:
    params: {channels: int}
    register_first: [norm, conv]
    body:
      - residual: identity
        body:
          - {name: conv, conv2d: {channels: $channels, kernel: 3, padding: 1}}
          - {name: norm, batchnorm2d: {}}
      - relu
layers:
  - conv2d: {channels: 4, kernel: 1}
  - {name: block, post_norm: 4}
"""


def test_register_first_orders_the_state_dict_and_leaves_forward_alone(write_spec, tmp_path):
    from archspec.backends.torch import write_python_source
    from tests.backends.torch.test_source import import_file

    graph = archspec.analyse(str(write_spec(POST_NORM)))
    model = build_module(graph, seed=0).eval()
    assert [name for name, _ in model.block.named_children()] == ["norm", "conv", "relu1"]
    plain = build_module(archspec.analyse(str(write_spec(POST_NORM.replace("[norm, conv]", "[]"), "plain.yaml"))),
                         seed=0).eval()
    assert list(plain.state_dict())[2:4] == ["block.conv.weight", "block.conv.bias"]
    plain.load_state_dict(model.state_dict())
    standalone = import_file(write_python_source(graph, tmp_path / "post_norm_net.py")).PostNormNet().eval()
    standalone.load_state_dict(model.state_dict())
    inputs = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model.block.relu1(model.block.norm(model.block.conv(model.conv1(inputs))) + model.conv1(inputs))
        torch.testing.assert_close(model(inputs), expected)
        torch.testing.assert_close(plain(inputs), expected)
        torch.testing.assert_close(standalone(inputs), expected)
