"""Reading a file never runs code from it: specs, ONNX models, checkpoints.

* ``archspec inspect`` parses protobuf only: a pickle posing as a model, or a model carrying code
  in its strings, is described or refused, never run; external-data locations outside the
  model's folder (absolute, ``..``, a symbolic link leading out) are refused, not looked at;
  control characters in the file's strings are printed as escapes, not sent to the terminal.
* archspec itself loads no checkpoint: a scan of its source keeps it so (any ``torch.load`` must
  pass ``weights_only=True``; no pickle, marshal, unsafe YAML, eval; ``exec`` only of generated
  source).  ``weights_only=True`` refuses a malicious pickle, shown below for the day a
  checkpoint path is added.
* A spec's free text (its description) never becomes code in the generated source, whatever
  characters it holds; a spec naming a plugin module does not import it.
"""

from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

import archspec
from archspec.backends.torch import python_source
from tests.strategies import write_document

ROOT = Path(__file__).resolve().parents[2]
ARCHSPEC = Path(sys.executable).with_name("archspec")


class Payload:
    """A pickle that, when unpickled by an unsafe loader, creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def inspect(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ARCHSPEC), "inspect", str(path)], capture_output=True, text=True, timeout=60)


def small_model(path: Path, *, location: str | None = None, text: str = "") -> Path:
    """A one-node ONNX model; its weight stored externally at ``location`` if given; ``text`` in its strings."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
    if location is not None:
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "16")):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
    node = helper.make_node("Add", ["x", "w"], ["y"], name=f"add{text}", doc_string=text)
    graph = helper.make_graph([node], f"g{text}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [weight])
    model = helper.make_model(graph, producer_name=f"crafted{text}")
    helper.set_model_props(model, {"note": text or "none"})
    path.write_bytes(model.SerializeToString())
    return path


def test_a_pickle_posing_as_an_onnx_model_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    model = tmp_path / "model.onnx"
    model.write_bytes(pickle.dumps(Payload(marker)))
    result = inspect(model)
    assert result.returncode == 1 and f"{model} is not an ONNX model" in result.stderr, result.stderr
    assert not marker.exists()


def test_code_and_escapes_in_a_models_strings_are_only_printed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"\x1b]0;owned\x07\x1b[2J__import__('os').system('touch {marker}')" + pickle.dumps(
        Payload(marker)).decode("latin-1")
    result = inspect(small_model(tmp_path / "model.onnx", text=text))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;owned\\x07\\x1b[2J__import__" in result.stdout
    assert not marker.exists()


def test_external_data_inside_the_models_folder_is_described(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.bin").write_bytes(bytes(16))
    result = inspect(small_model(tmp_path / "model.onnx", location="weights/w.bin"))
    assert result.returncode == 0, result.stderr
    assert "external data: weights/w.bin (0.0 MB)" in result.stdout


@pytest.mark.parametrize("kind", ["absolute", "parent", "nested parent", "symbolic link"])
def test_external_data_outside_the_models_folder_is_refused(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"s" * 4096)
    (folder / "sub").mkdir()
    (folder / "link.bin").symlink_to(secret)
    location = {"absolute": str(secret), "parent": "../secret.bin", "nested parent": "sub/../../secret.bin",
                "symbolic link": "link.bin"}[kind]
    model = small_model(folder / "model.onnx", location=location)
    result = inspect(model)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(f"error: {model}: external data location '{location}' lies outside the "
                                    "model's folder; refusing to follow it"), result.stderr
    assert "0.0 MB" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_archspec_loads_no_code_from_files() -> None:
    """Every call that could run code from data, in archspec's source, is one of the allowed ones."""
    dangerous = {("pickle", "load"), ("pickle", "loads"), ("marshal", "loads"), ("marshal", "load"),
                 ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"), ("torch", "load"),
                 ("jit", "load"), ("dill", "load"), ("np", "load"), ("numpy", "load")}
    found = []
    for path in sorted((ROOT / "archspec").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(function, ast.Name) and function.id in ("eval", "exec", "__import__"):
                found.append((where, function.id))
            elif isinstance(function, ast.Attribute) and isinstance(function.value, (ast.Name, ast.Attribute)):
                owner = function.value.id if isinstance(function.value, ast.Name) else function.value.attr
                if (owner, function.attr) in dangerous:
                    safe = function.attr == "load" and owner == "torch" and any(
                        keyword.arg == "weights_only" and isinstance(keyword.value, ast.Constant)
                        and keyword.value.value is True for keyword in node.keywords)
                    if not safe:
                        found.append((where, f"{owner}.{function.attr}"))
    assert [name for _, name in found] == ["exec"], found
    assert found[0][0].startswith("archspec/backends/torch/builder.py:"), "exec outside the build of generated source"


def test_weights_only_loading_refuses_a_malicious_checkpoint(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    checkpoint = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.zeros(1), "evil": Payload(marker)}, checkpoint)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(checkpoint, weights_only=True)
    assert not marker.exists()


def test_a_spec_naming_a_plugin_does_not_import_it(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "sneaky.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    spec = tmp_path / "net.yaml"
    spec.write_text("archspec: 1\nname: net\ninput: [3, 8, 8]\nplugins: [sneaky]\nlayers: [relu]\n")
    result = subprocess.run([str(ARCHSPEC), "validate", str(spec)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1 and "sneaky" in result.stderr, result.stderr
    assert not marker.exists()


DESCRIPTIONS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60) | st.sampled_from([
    '"""', '""""', '"', '\\', '\\"""', "'''", 'x"""\nimport os\n"""', "\x00", "\\x00", "\r\n", "\u2028",
    "\x1b[31m", "#", "\t\\N{", "\\u12", "}{", "%s%d",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=st.lists(DESCRIPTIONS, min_size=1, max_size=4).map("".join))
def test_a_description_never_becomes_code(tmp_path_factory: pytest.TempPathFactory, description: str) -> None:
    document = {"archspec": 1, "name": "net", "description": description, "input": [2, 5, 5],
                "layers": [{"conv2d": {"channels": 3, "kernel": 3}}, "relu"]}
    path = write_document(document, tmp_path_factory.mktemp("spec"))
    graph = archspec.analyse(str(path))
    source = python_source(graph)
    tree = ast.parse(source)
    assert all(isinstance(statement, (ast.Import, ast.ImportFrom, ast.ClassDef)) for statement in tree.body[1:])
    docstring = ast.get_docstring(tree) or ""
    assert "".join(docstring.split()).startswith("".join(graph.description.replace('"""', "'''").split())
                                                 or graph.name)
    model = archspec.build(str(path), seed=0)
    assert model(torch.zeros(1, 2, 5, 5)).shape == (1, 3, 3, 3)
