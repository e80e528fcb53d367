"""A compile that fails writes nothing: no output file, no temporary, however far it got.

Mutants of valid specs (the mutations of ``tests/spec/test_mutations.py``) that archspec rejects go
through ``archspec compile SPEC --onnx --pt --py --svg -o DIR``: exit 1, located errors only, and
``DIR`` holds no file afterwards (nor any leftover temporary).  Two failures that come late, after
the spec has analysed, must leave the folder as it was too: a layer ONNX cannot express (an LRN
of even size) and a bad ``--opset``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecError
from tests.spec.test_mutations import LOCATED, SPECS, mutant

ARCHSPEC = Path(sys.executable).with_name("archspec")
OUTPUTS = ("--onnx", "--pt", "--py", "--svg")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of specs/, so that a mutant's ``extends: lib/resnet.yaml`` finds the library."""
    target = tmp_path_factory.mktemp("mutants") / "specs"
    shutil.copytree(SPECS, target)
    return target


def compile_spec(spec: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "ARCHSPEC_DEBUG"}
    return subprocess.run([str(ARCHSPEC), "compile", str(spec), *OUTPUTS, "-o", str(out), "-q", *extra],
                          capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=120,
                          env=environment)


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) if folder.exists() else []


def check_invalid_mutant(workspace: Path, data: st.DataObject) -> None:
    content, applied = mutant(data)
    path = workspace / "mutant.yaml"
    path.write_bytes(content)
    try:
        archspec.analyse(archspec.load(path))
    except SpecError:
        pass
    else:
        assume(False)  # a valid mutant compiles: not what this test is about
    out = workspace / "out"
    shutil.rmtree(out, ignore_errors=True)
    result = compile_spec(path, out)
    assert result.returncode == 1, (applied, result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (applied, result.stderr)
    headlines = [line for line in result.stderr.splitlines() if "error:" in line and not line.startswith(" ")]
    assert headlines and all(LOCATED.match(line) for line in headlines), (applied, result.stderr)
    assert files_under(out) == [], applied


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_invalid_mutants_compile_to_no_file(workspace: Path, data: st.DataObject) -> None:
    check_invalid_mutant(workspace, data)


@pytest.mark.fuzz
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_invalid_mutants_compile_to_no_file_long(workspace: Path, data: st.DataObject) -> None:
    check_invalid_mutant(workspace, data)


EVEN_LRN = """\
archspec: 1
name: net
input: [3, 16, 16]
layers:
  - {conv2d: {channels: 8, kernel: 3}}
  - {lrn: 4, name: norm}
  - global_avgpool
  - flatten
  - linear: 10
"""


def test_a_late_failure_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    """The spec analyses; its ONNX export fails on the LRN: nothing is written, earlier files are untouched."""
    spec = tmp_path / "net.yaml"
    spec.write_text(EVEN_LRN)
    out = tmp_path / "out"
    out.mkdir()
    (out / "net.onnx").write_bytes(b"previous")
    (out / "net.py").write_text("previous")
    result = compile_spec(spec, out)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{spec}:6:6: error: cannot export layer 'norm' (lrn) to ONNX: LRN of even size 4")
    assert files_under(out) == ["net.onnx", "net.py"]
    assert (out / "net.onnx").read_bytes() == b"previous" and (out / "net.py").read_text() == "previous"

    bad_opset = compile_spec(spec, out, "--opset", "3")
    assert bad_opset.returncode == 2 and bad_opset.stderr.startswith("error: --opset 3: archspec writes ONNX opsets")
    assert files_under(out) == ["net.onnx", "net.py"]
