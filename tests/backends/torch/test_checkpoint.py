"""Checkpoint files as untrusted input, and mapping them onto a spec's module by name or by order."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
import torch

from archspec.api import build
from archspec.backends.torch import WeightPortError
from archspec.backends.torch.checkpoint import CheckpointError, load_state_dict, load_weights
from tests.backends.torch import reference


def equal_states(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture
def lenet_file(tmp_path: Path) -> Path:
    path = tmp_path / "lenet.pt"
    torch.save(build("lenet5", seed=1).state_dict(), path)
    return path


def test_same_names_map_by_name(lenet_file: Path):
    model = build("lenet5", seed=0)
    report = load_weights(model, lenet_file)
    assert report.by == "name" and len(report.ported) == 10
    assert str(report).startswith("ported 10 tensors (61,706 values) by name")
    assert equal_states(model, build("lenet5", seed=1))


def test_other_names_map_by_order(tmp_path: Path):
    theirs = reference.LeNet5()
    path = tmp_path / "theirs.pth"
    torch.save(theirs.state_dict(), path)
    model = build("lenet5", seed=0)
    report = load_weights(model, path)
    assert report.by == "order" and report.ported[0].source == "features.0.weight"
    assert torch.equal(model.state_dict()["conv1.weight"], theirs.state_dict()["features.0.weight"])


def test_forced_name_mapping_names_what_differs(tmp_path: Path):
    path = tmp_path / "theirs.pt"
    torch.save(reference.LeNet5().state_dict(), path)
    with pytest.raises(WeightPortError, match=r"the module's 'conv1.weight'.* not in the weights.*--weights-map order"):
        load_weights(build("lenet5"), path, by="name")


def test_forced_order_mapping_on_equal_names(lenet_file: Path):
    assert load_weights(build("lenet5"), lenet_file, by="order").by == "order"


def test_a_shape_mismatch_names_both_tensors_and_changes_nothing(tmp_path: Path):
    state = build("lenet5", seed=1).state_dict()
    state["fc2.weight"] = torch.zeros(84, 121)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    model = build("lenet5", seed=0)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(WeightPortError, match=r"'fc2.weight' has shape \[84, 120\] but the weights' 'fc2.weight' "
                                              r"has shape \[84, 121\]"):
        load_weights(model, path)
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_order_mismatch_names_both_tensors(tmp_path: Path):
    state = reference.LeNet5().state_dict()
    state["classifier.0.weight"] = torch.zeros(120, 401)
    with pytest.raises(WeightPortError, match=r"the module's '\w+.weight' has shape \[120, 400\] but the source's "
                                              r"'classifier.0.weight' has shape \[120, 401\]"):
        load_weights(build("lenet5"), state)


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"conv1.weight": torch.zeros(1), "payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="holds Python objects other than tensors"):
        load_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["secret.pt", "secret.safetensors"])
def test_a_file_that_is_not_a_checkpoint_is_named_never_quoted(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text("root:$6$hash-of-a-password:0:0\n")
    with pytest.raises(CheckpointError) as caught:
        load_state_dict(path)
    assert str(path) in str(caught.value) and "hash-of-a-password" not in str(caught.value)


def test_other_suffixes_are_not_read(tmp_path: Path):
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0\n")
    with pytest.raises(CheckpointError, match=r"not a weights file \(expected .pt"):
        load_state_dict(path)
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_state_dict(tmp_path / "missing.pt")


def test_a_state_dict_inside_a_training_checkpoint(lenet_file: Path, tmp_path: Path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 3, "state_dict": torch.load(lenet_file), "optimizer": {"lr": 0.1}}, path)
    assert list(load_state_dict(path)) == list(torch.load(lenet_file))


@pytest.mark.parametrize(("content", "message"), [
    ([torch.zeros(1)], "holds a list, not a state_dict"),
    ({"epoch": 3, "lr": 0.1}, r"not a state_dict: it holds 2 entries \('epoch', 'lr'\) and none is a tensor"),
    ({"conv1.weight": torch.zeros(1), "epoch": 3}, "entry 'epoch' is a int, not a tensor"),
    ({}, "an empty state_dict"),
])
def test_what_is_not_a_state_dict(tmp_path: Path, content: object, message: str):
    path = tmp_path / "thing.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        load_state_dict(path)


def test_the_memory_limit_is_checked_before_reading(lenet_file: Path, monkeypatch: pytest.MonkeyPatch):
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", never)
    with pytest.raises(CheckpointError, match=r"more than the memory limit of 1.00 KB; nothing was read"):
        load_state_dict(lenet_file, limit="1KB")


def test_safetensors_written_by_the_reference_library(tmp_path: Path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = {"a": torch.arange(6, dtype=torch.int8).reshape(2, 3), "b": torch.randn(3, 2).to(torch.bfloat16),
               "c": torch.randn(5, dtype=torch.float64), "empty": torch.zeros(0, 4)}
    path = tmp_path / "weights.safetensors"
    safetensors_torch.save_file(tensors, path, metadata={"format": "pt"})
    loaded = load_state_dict(path)
    assert sorted(loaded) == sorted(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor)


def test_a_module_from_safetensors(tmp_path: Path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "lenet.safetensors"
    safetensors_torch.save_file(build("lenet5", seed=1).state_dict(), path)
    model = build("lenet5", seed=0)
    assert load_weights(model, path).by == "name"
    assert equal_states(model, build("lenet5", seed=1))


def _safetensors(header: object, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("content", [
    b"\x01\x02",
    struct.pack("<Q", 1 << 40) + b"{}",
    struct.pack("<Q", 4) + b"\xff\xfe{}",
    _safetensors([1, 2]),
    _safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}}, bytes(8)),
    _safetensors({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
    _safetensors({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8)),
    _safetensors({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)),
    _safetensors({"a": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
    _safetensors({"__metadata__": {}}),
])
def test_malformed_safetensors(tmp_path: Path, content: bytes):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=str(path)):
        load_state_dict(path)


def test_a_state_dict_given_directly():
    model = build("lenet5", seed=0)
    load_weights(model, build("lenet5", seed=1).state_dict())
    assert equal_states(model, build("lenet5", seed=1))


def test_a_meta_module_receives_the_tensors():
    model = build("lenet5", device="meta")
    load_weights(model, build("lenet5", seed=1).state_dict())
    assert not any(value.is_meta for value in model.state_dict().values())
