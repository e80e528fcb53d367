"""Shared test fixtures.  Golden files are regenerated with ``pytest --update-golden``."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from the current output")


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """Compare text against a golden file under tests/data/golden (or rewrite it with --update-golden)."""
    update = request.config.getoption("--update-golden")

    def check(relative: str, actual: str) -> None:
        path = DATA / "golden" / relative
        if update or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            if not update:
                pytest.fail(f"golden file {path} did not exist; wrote it (rerun to compare)")
            return
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from {path}; run pytest --update-golden and review the diff"

    return check


@pytest.fixture
def benchmark(monkeypatch: pytest.MonkeyPatch):
    """Load a benchmark module (benchmarks/NAME.py) the way benchmarks/run.py does."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import run  # benchmarks/run.py

    return lambda name: run.load(REPO / "benchmarks" / f"{name}.py")


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a spec file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
