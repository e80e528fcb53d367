"""A spec too big for memory is refused before anything is allocated; the static commands still work on it.

The spec has 100 billion parameters (400 GB in float32).  ``compile`` and ``archspec.build``
refuse it with a clear error; ``validate``, ``summary`` and ``render`` describe it statically
(nothing of that size is ever allocated, so all of this is quick).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archspec
from archspec.backends.torch import builder
from archspec.cli import app
from archspec.errors import SpecError, UsageError
from archspec.resources import LIMIT_ENVIRONMENT_VARIABLE, memory_limit

ARCHSPEC = Path(sys.executable).with_name("archspec")
HUGE = """\
archspec: 1
name: huge
input: [100000]
layers:
  - linear: 1000000
  - relu
  - linear: 10
"""
PARAMETERS = 100_000 * 1_000_000 + 1_000_000 + 1_000_000 * 10 + 10


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE)
    return path


def run(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ARCHSPEC), *arguments], capture_output=True, text=True, timeout=120,
                          env={**_without_limit(), **(environment or {})})


def _without_limit() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != LIMIT_ENVIRONMENT_VARIABLE}


def test_compile_refuses_before_allocating_and_writes_nothing(huge: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("compile", str(huge), "--onnx", "--pt", "--py", "--svg", "-o", str(out), "-q")
    assert result.returncode == 1, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: huge has 100,011,000,010 parameters (400.04 GB in float32), more than the "
                            "memory limit of "), first
    assert first.endswith("; nothing was allocated")
    assert "--memory-limit" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_an_explicit_limit_is_used_and_beats_the_environment(huge: Path, tmp_path: Path) -> None:
    refused = run("compile", str(huge), "--memory-limit", "10GB", "-o", str(tmp_path), "-q",
                  environment={LIMIT_ENVIRONMENT_VARIABLE: "1TB"})
    assert refused.returncode == 1 and "more than the memory limit of 10.00 GB" in refused.stderr
    allowed = run("compile", "lenet5", "--memory-limit", "10MB", "-o", str(tmp_path), "-q",
                  environment={LIMIT_ENVIRONMENT_VARIABLE: "100KB"})
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "lenet5.onnx").is_file()
    limited = run("compile", "lenet5", "--pt", "-o", str(tmp_path / "pt"), "-q",
                  environment={LIMIT_ENVIRONMENT_VARIABLE: "100KB"})
    assert limited.returncode == 1
    assert "(246.82 KB in float32), more than the memory limit of 100.00 KB" in limited.stderr
    assert not (tmp_path / "pt").exists()


def test_invalid_limits_are_usage_errors(tmp_path: Path) -> None:
    for arguments, environment, shown in [
        (["--memory-limit", "lots"], {}, "invalid memory limit 'lots'"),
        (["--memory-limit", "1e400"], {}, "invalid memory limit '1e400'"),
        ([], {LIMIT_ENVIRONMENT_VARIABLE: "1e400GB"}, f"invalid ${LIMIT_ENVIRONMENT_VARIABLE} '1e400GB'"),
    ]:
        result = run("compile", "lenet5", *arguments, "-o", str(tmp_path), "-q", environment=environment)
        assert (result.returncode, result.stderr.splitlines()[0]) == (2, f"error: {shown} (use e.g. 4GB, 512MiB "
                                                                         "or a number of bytes)")
    assert not any(tmp_path.iterdir())


def test_static_commands_work_on_it(huge: Path, tmp_path: Path) -> None:
    def invoke(*arguments: str) -> str:
        result = CliRunner().invoke(app, list(arguments))
        assert result.exit_code == 0, result.output
        return result.stdout

    assert "100,011,000,010 parameters" in invoke("validate", str(huge))
    assert json.loads(invoke("summary", str(huge), "--format", "json"))["params"] == PARAMETERS
    assert "params: 100,011,000,010" in invoke("summary", str(huge))
    for name in ("huge.svg", "huge.dot"):
        invoke("render", str(huge), "-o", str(tmp_path / name), "--params")
        assert (tmp_path / name).stat().st_size > 0
    invoke("compile", str(huge), "--py", "--dot", "-o", str(tmp_path / "static"), "-q")
    assert sorted(path.name for path in (tmp_path / "static").iterdir()) == ["huge.dot", "huge.py"]


def test_build_refuses_before_constructing_anything(huge: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LIMIT_ENVIRONMENT_VARIABLE, raising=False)

    def constructed(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was constructed")

    monkeypatch.setattr(builder, "construct", constructed)
    with pytest.raises(SpecError, match=r"error: huge has 100,011,000,010 parameters .* nothing was allocated"):
        archspec.build(str(huge))
    with pytest.raises(SpecError, match=r"more than the memory limit of 100\.00 GB"):
        archspec.build(str(huge), memory_limit="100GB")
    with pytest.raises(SpecError, match=r"more than the memory limit of 200\.00 GB"):
        archspec.build(str(huge), memory_limit=200 * 10**9)


def test_build_takes_an_explicit_limit_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENVIRONMENT_VARIABLE, "100KB")
    with pytest.raises(SpecError, match=r"\(246.82 KB in float32\), more than the memory limit of 100.00 KB"):
        archspec.build("lenet5")
    assert sum(p.numel() for p in archspec.build("lenet5", memory_limit="1MB").parameters()) == 61_706
    with pytest.raises(UsageError, match="invalid memory limit 'much'"):
        archspec.build("lenet5", memory_limit="much")


def test_structure_only_builds_on_the_meta_device_are_not_limited(huge: Path) -> None:
    model = archspec.build(str(huge), device="meta")
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS
    assert all(p.is_meta for p in model.parameters())


def test_the_default_limit_is_half_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec.resources import physical_memory_bytes

    monkeypatch.delenv(LIMIT_ENVIRONMENT_VARIABLE, raising=False)
    assert memory_limit() == physical_memory_bytes() // 2
    assert memory_limit("8GB") == 8 * 10**9 and memory_limit(123) == 123
