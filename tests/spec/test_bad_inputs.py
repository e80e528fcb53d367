"""The bad-input corpus: every class of bad input archspec knows, with its exact error output.

Each case in ``tests/data/bad/`` runs through the real console script, from the repository
root (so paths in messages are stable), and must exit with its status (1 for a bad spec, 2
for bad usage), print no traceback, and print exactly the golden ``NAME.stderr`` (and
``NAME.stdout`` where one exists).  A case is either

* ``NAME.yaml``: run as ``archspec validate tests/data/bad/NAME.yaml``, expected status 1; or
* ``NAME.args``: one line of arguments after ``archspec`` (split like a shell would), plus an
  optional ``exit: N`` line; lines starting with ``#`` are comments.

``tests/data/bad/support/`` holds files that cases refer to (the targets of ``extends``).
``tests/data/bad/.gitattributes`` keeps git from touching the bytes (tabs, CRLF, binary).

To regenerate the goldens after changing a message, run::

    .venv/bin/pytest tests/spec/test_bad_inputs.py --update-golden

and review the diff of ``tests/data/bad/*.stderr`` as you would review code.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    status: int


def _case(path: Path) -> Case:
    if path.suffix == ".yaml":
        return Case(path.stem, ("validate", str(path.relative_to(ROOT))), 1)
    status, args = 1, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("exit:"):
            status = int(line.removeprefix("exit:"))
        else:
            args = tuple(shlex.split(line))
    assert args is not None, f"{path} holds no command line"
    return Case(path.stem, args, status)


CASES = sorted((_case(p) for p in [*BAD.glob("*.yaml"), *BAD.glob("*.args")]), key=lambda c: c.name)


def archspec_command() -> list[str]:
    """The installed console script, next to this interpreter (or on PATH)."""
    script = Path(sys.executable).with_name("archspec")
    if script.exists():
        return [str(script)]
    found = shutil.which("archspec")
    assert found, "the archspec console script is not installed (pip install -e .)"
    return [found]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "ARCHSPEC_DEBUG"}
    environment.update({"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}, **(env or {}))
    return subprocess.run([*archspec_command(), *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def check_golden(path: Path, actual: str, update: bool) -> None:
    if update:
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert path.exists(), f"no golden file {path.name}; run pytest --update-golden to create it"
    assert actual == path.read_text(encoding="utf-8"), f"output differs from {path.name}; see the module docstring"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_its_golden_error(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    update = bool(request.config.getoption("--update-golden"))
    marker = tmp_path / "code-ran"
    result = run_cli(*case.args, env={"ARCHSPEC_PWNED_MARKER": str(marker)})
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr
    assert result.returncode == case.status, result.stderr
    if case.status == 1 and case.args[0] == "validate":
        assert ": error: " in result.stderr or result.stderr.startswith("error: ")
    check_golden(BAD / f"{case.name}.stderr", result.stderr, update)
    stdout_golden = BAD / f"{case.name}.stdout"
    if stdout_golden.exists() or result.stdout:
        check_golden(stdout_golden, result.stdout, update)
    assert not marker.exists(), "a spec ran code"


def test_every_golden_has_a_case() -> None:
    names = {case.name for case in CASES}
    orphans = [p.name for p in [*BAD.glob("*.stderr"), *BAD.glob("*.stdout")] if p.stem not in names]
    assert not orphans


def test_corpus_covers_every_class() -> None:
    """The classes of bad input the spec front end knows; each needs a case (and so a golden)."""
    required = {
        "yaml_unclosed_flow", "yaml_bad_indent", "yaml_unclosed_quote", "yaml_mapping_in_scalar", "tabs",
        "non_utf8", "utf16_bom", "empty", "not_a_mapping", "duplicate_keys", "python_tag", "alias_bomb",
        "deep_nesting_block", "deep_nesting_flow", "missing_path", "directory", "binary_garbage",
        "unknown_top_level_key", "unknown_layer_kind", "misspelt_parameter", "wrong_types",
        "zero_and_negative_sizes", "huge_integers", "kernel_larger_than_input", "too_many_pools",
        "groups_not_dividing", "residual_shape_mismatch", "concat_hw_mismatch", "linear_unflattened",
        "dangling_input", "cycle", "duplicate_names", "bad_expression", "unknown_variable",
        "block_wrong_parameter", "recursive_block", "extends_missing", "extends_cycle", "several_errors",
        "several_shape_errors", "crlf_several_errors", "utf8_bom_errors",
    }
    assert required <= {case.name for case in CASES}


# -- properties of particular cases the goldens alone do not show ----------------------------------

@pytest.mark.parametrize("name", ["several_errors", "several_shape_errors"])
def test_several_errors_are_all_reported(name: str) -> None:
    """Schema errors (unknown keys and kinds, bad values) and lowering errors (dangling names,
    shapes) come together; a layer whose input failed is skipped rather than reported twice."""
    with pytest.raises(SpecError) as caught:
        archspec.analyse(archspec.load(BAD / f"{name}.yaml"))
    lines = {d.location.line for d in caught.value.diagnostics if d.location}
    assert len(caught.value.diagnostics) == len(lines) >= 3


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system [\"touch {marker}\"]",
    "!!python/object/apply:subprocess.call [[touch, {marker}]]",
    "!!python/object/new:pathlib.Path [{marker}]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/tuple [1, 2]",
    "!!binary aGVsbG8=",
    "!custom {{a: 1}}",
])
def test_tags_are_refused_and_never_run(tag: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    spec = tmp_path / "tagged.yaml"
    spec.write_text(f"archspec: 1\nname: net\ninput: [3, 8, 8]\nvariables:\n  x: {tag.format(marker=marker)}\n"
                    "layers: [relu]\n")
    with pytest.raises(SpecError) as caught:
        archspec.load(spec)
    (diagnostic,) = caught.value.diagnostics
    assert "tag" in diagnostic.message and diagnostic.location is not None
    assert (diagnostic.location.line, diagnostic.location.column) == (5, 6)
    assert not marker.exists()


def _graph_facts(graph: archspec.Graph) -> list[tuple[object, ...]]:
    return [(n.name, n.op, n.params, n.inputs, n.output_shape, n.parameters, n.macs,
             (n.location.line, n.location.column) if n.location else None) for n in graph.nodes]


def _copy_specs(destination: Path, transform: Callable[[bytes], bytes]) -> None:
    for source in (ROOT / "specs").rglob("*.yaml"):
        target = destination / source.relative_to(ROOT / "specs")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(transform(source.read_bytes()))


@pytest.mark.parametrize("encoding", ["crlf", "utf8_bom", "bare_cr"])
def test_line_endings_and_utf8_bom_give_the_same_graph(encoding: str, tmp_path: Path) -> None:
    """A spec saved on Windows (CRLF, perhaps with a UTF-8 BOM) is the same network, at the same lines."""
    transforms = {
        "crlf": lambda data: data.replace(b"\n", b"\r\n"),
        "utf8_bom": lambda data: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"),
        "bare_cr": lambda data: data.replace(b"\n", b"\r"),
    }
    _copy_specs(tmp_path, transforms[encoding])
    for name in ("lenet5", "vgg16", "resnet50", "plain34"):
        twin = archspec.analyse(archspec.load(tmp_path / f"{name}.yaml"))
        original = archspec.analyse(name)
        assert _graph_facts(twin) == _graph_facts(original), name


def test_crlf_error_locations_match_lf(tmp_path: Path) -> None:
    lf = (BAD / "several_errors.yaml").read_bytes()
    (tmp_path / "lf.yaml").write_bytes(lf)
    (tmp_path / "crlf.yaml").write_bytes(lf.replace(b"\n", b"\r\n"))
    found = {}
    for name in ("lf", "crlf"):
        with pytest.raises(SpecError) as caught:
            archspec.analyse(archspec.load(tmp_path / f"{name}.yaml"))
        found[name] = [(d.message, d.location.line, d.location.column, d.location.line_text)
                       for d in caught.value.diagnostics if d.location]
    assert found["lf"] == found["crlf"]
    assert all("\r" not in text for *_, text in found["crlf"])


def test_hostile_files_are_refused_by_a_limit_not_by_running_out(tmp_path: Path) -> None:
    """The alias bomb and the 20,000-deep nestings stop at archspec's own limits (the benchmark
    benchmarks/bench_hostile_inputs.py measures how fast)."""
    from archspec.spec.located_yaml import MAX_DEPTH, MAX_EXPANDED_NODES

    with pytest.raises(SpecError, match=f"more than {MAX_EXPANDED_NODES:,} values"):
        archspec.load(BAD / "alias_bomb.yaml")
    for style in ("block", "flow"):
        with pytest.raises(SpecError, match=f"deeper than {MAX_DEPTH} levels") as caught:
            archspec.load(BAD / f"deep_nesting_{style}.yaml")
        (diagnostic,) = caught.value.diagnostics
        assert diagnostic.location is not None and diagnostic.location.line == 5 + (style == "block")
