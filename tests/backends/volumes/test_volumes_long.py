"""A long network's volume figure costs time linear in its length (issue 19).

Counted, not timed: the number of Python calls the figure makes is deterministic, so a step that is
quadratic in the length (a lookup scanning every scope, arrow or segment once per element) shows
as a ratio well above the ratio of lengths on any machine.  benchmarks/bench_volumes_long.py
measures the time.
"""

from __future__ import annotations

import cProfile
import pstats
import sys

import pytest

from archspec.backends.volumes import volume_svg
from archspec.graph.lower import analyse
from tests.conftest import REPO


def _calls(tmp_path, layers: int, **options: bool) -> int:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_volumes_long import dense_spec
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    path = tmp_path / f"dense{layers}.yaml"
    path.write_text(dense_spec(layers))
    graph = analyse(str(path))
    volume_svg(graph, **options)  # caches warm
    profile = cProfile.Profile()
    profile.enable()
    volume_svg(graph, **options)
    profile.disable()
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("expand", [False, True])
def test_work_grows_linearly_with_the_length(tmp_path, expand):
    short, long = _calls(tmp_path, 100, expand=expand), _calls(tmp_path, 1600, expand=expand)
    assert long / short < 17.5, f"16 times the layers took {long / short:.1f} times the calls"


@pytest.mark.slow
def test_long_network_benchmark_reports_ratios(benchmark):
    bench = benchmark("bench_volumes_long")
    results = bench.main(quick=True)
    assert set(results) == set(bench.TARGETS)
    assert all(isinstance(value, float) and value > 0 for value in results.values())
