"""The gallery script and the render benchmark run end to end (no timing is checked here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from archspec.backends.graphviz.gallery import render_gallery
from archspec.spec.builtin import builtin_spec_names

ROOT = Path(__file__).resolve().parents[3]


def test_gallery_draws_the_chosen_specs(tmp_path):
    written = render_gallery(tmp_path, names=["lenet5", "nin"], formats=["svg", "dot"])
    assert sorted(path.name for path in written) == ["lenet5.dot", "lenet5.svg", "nin.dot", "nin.svg"]
    assert all(path.stat().st_size > 0 for path in written)


def test_gallery_script_draws_every_builtin_spec(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_gallery.py"), str(tmp_path),
                             "--format", "dot"], capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 0, result.stderr
    assert sorted(path.stem for path in tmp_path.glob("*.dot")) == builtin_spec_names()


def test_gallery_script_reports_unknown_specs(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_gallery.py"), str(tmp_path), "lenet"],
                            capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 1 and "lenet5" in result.stderr


def test_render_benchmark_reports_ratios(benchmark):
    bench = benchmark("bench_render")
    results = bench.main(quick=True)
    assert set(results) == set(bench.TARGETS)
    assert all(isinstance(value, float) and value > 0 for value in results.values())


def test_gallery_draws_volume_figures_beside_the_diagrams(tmp_path):
    written = render_gallery(tmp_path, names=["lenet5"], formats=["svg", "dot"], styles=["graph", "volumes"])
    assert sorted(path.name for path in written) == ["lenet5-volumes.svg", "lenet5.dot", "lenet5.svg"]
    assert 'class="volume"' in (tmp_path / "lenet5-volumes.svg").read_text(encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_gallery.py"), str(tmp_path / "all"),
                             "--style", "volumes"], capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "all").iterdir()) == [
        f"{name}-volumes.svg" for name in builtin_spec_names()]
