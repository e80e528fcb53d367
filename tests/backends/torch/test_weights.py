"""Porting weights by order from plain PyTorch modules, and writing state_dicts."""

from __future__ import annotations

import pytest
import torch

import archspec
from archspec.api import build
from archspec.backends.torch import WeightPortError, port_weights, write_state_dict
from tests.backends.torch import reference


def randomize_statistics(module: torch.nn.Module) -> torch.nn.Module:
    """Batch-norm statistics away from 0/1, so porting them is tested too."""
    generator = torch.Generator().manual_seed(1)
    for child in module.modules():
        if isinstance(child, torch.nn.BatchNorm2d):
            child.running_mean.copy_(torch.randn(child.num_features, generator=generator))
            child.running_var.copy_(torch.rand(child.num_features, generator=generator) + 0.5)
            child.weight.data.copy_(torch.randn(child.num_features, generator=generator))
            child.bias.data.copy_(torch.randn(child.num_features, generator=generator))
    return module


def assert_same_outputs(ours: torch.nn.Module, theirs: torch.nn.Module, shape: tuple[int, ...]) -> None:
    inputs = torch.randn(4, *shape)
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(inputs), theirs(inputs), rtol=1e-5, atol=1e-5)


def test_lenet5_from_a_plain_pytorch_lenet():
    theirs = reference.LeNet5()
    ours = build("lenet5", seed=0)
    report = port_weights(ours, theirs.state_dict())
    assert len(report.ported) == 10 and report.values == archspec.analyse("lenet5").parameters
    assert (report.ported[0].target, report.ported[0].source) == ("conv1.weight", "features.0.weight")
    assert_same_outputs(ours, theirs, (1, 32, 32))


def test_vgg_style_stack_with_batch_norm(write_spec):
    theirs = randomize_statistics(reference.SmallVGG())
    ours = build(str(write_spec(reference.VGG_STYLE)), seed=0)
    report = port_weights(ours, theirs)
    assert report.ported[3] == type(report.ported[3])("stage1.bn1.bias", "features.1.bias", (8,))
    assert not report.skipped
    assert_same_outputs(ours, theirs, (3, 32, 32))


@pytest.mark.parametrize("block", [reference.BasicBlock, reference.Bottleneck])
def test_resnet_blocks_with_a_projection_shortcut(write_spec, block):
    name = "basic" if block is reference.BasicBlock else "bottleneck"
    theirs = randomize_statistics(reference.two_blocks(block))
    ours = build(str(write_spec(reference.RESNET_BLOCK.format(name=f"two_{name}", block=name))), seed=0)
    report = port_weights(ours, theirs.state_dict())
    targets = [entry.target for entry in report.ported]
    assert targets.index(f"{name}1.shortcut.conv.weight") > targets.index(f"{name}1.bn2.num_batches_tracked")
    assert "0.downsample.0.weight" in {entry.source for entry in report.ported}
    assert_same_outputs(ours, theirs, (8, 16, 16))


def test_a_shape_mismatch_names_both_tensors(write_spec):
    theirs = reference.LeNet5()
    theirs.classifier[0] = torch.nn.Linear(400, 100)
    with pytest.raises(WeightPortError) as caught:
        port_weights(build("lenet5"), theirs.state_dict())
    message = str(caught.value)
    assert message.startswith("tensor 5 of 10: the module's 'fc1.weight' has shape [120, 400] but the source's "
                              "'classifier.0.weight' has shape [100, 400]")
    assert "> " in message and "conv2.bias [16]  <-  features.3.bias [16]" in message


def test_a_missing_tensor_is_reported():
    state = reference.LeNet5().state_dict()
    state.pop("classifier.4.bias")
    with pytest.raises(WeightPortError, match=r"the module has 10 tensors and the source 9: every tensor matched up to "
                                              r"the module's 'fc3\.bias', which has no counterpart"):
        port_weights(build("lenet5"), state)


def test_non_tensors_are_refused():
    with pytest.raises(WeightPortError, match="source entry 'epoch' is a int, not a tensor"):
        port_weights(build("lenet5"), {"epoch": 3})


def test_sources_without_batch_counters_keep_ours(write_spec):
    theirs = randomize_statistics(reference.SmallVGG())
    state = {k: v for k, v in theirs.state_dict().items() if not k.endswith("num_batches_tracked")}
    ours = build(str(write_spec(reference.VGG_STYLE)))
    report = port_weights(ours, state)
    assert report.skipped == ("stage1.bn1.num_batches_tracked", "stage2.bn1.num_batches_tracked",
                              "stage2.bn2.num_batches_tracked", "stage3.bn1.num_batches_tracked",
                              "stage3.bn2.num_batches_tracked")
    assert "kept 5 entries the source lacks" in str(report)
    assert_same_outputs(ours, theirs, (3, 32, 32))


def test_a_meta_module_receives_the_tensors_themselves():
    theirs = reference.LeNet5()
    ours = build("lenet5", device="meta")
    port_weights(ours, theirs.state_dict())
    assert not any(p.is_meta for p in ours.parameters())
    assert ours.conv1.weight.data_ptr() == theirs.features[0].weight.data_ptr()
    assert_same_outputs(ours, theirs, (1, 32, 32))


def test_report_table_lists_every_pair():
    report = port_weights(build("lenet5"), reference.LeNet5())
    lines = report.table().splitlines()
    assert len(lines) == 10 and lines[0].split() == ["conv1.weight", "<-", "features.0.weight", "[6,", "1,", "5,", "5]"]


def test_write_state_dict_round_trips(tmp_path):
    model = build("lenet5", seed=0)
    path = write_state_dict(model, tmp_path / "out" / "lenet5.pt")
    assert path == tmp_path / "out" / "lenet5.pt"
    loaded = torch.load(path, weights_only=True)
    assert list(loaded) == list(model.state_dict())
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def failing_save(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_state_dict(build("lenet5"), tmp_path / "lenet5.pt")
    assert list(tmp_path.iterdir()) == []


def test_meta_modules_have_no_weights_to_write(tmp_path):
    with pytest.raises(archspec.ArchspecError, match="meta device"):
        write_state_dict(build("lenet5", device="meta"), tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []
