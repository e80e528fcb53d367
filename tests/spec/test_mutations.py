"""Property: whatever a person does to a spec, archspec answers with a graph or a located error.

Hypothesis mutates the built-in specs (and one spec with branches, concat and dotted names, since
the built-ins have none): wrong types, missing and extra keys, typos in keys and layer kinds,
dangling and duplicate names, cycles, shape-breaking sizes and layers, and random byte edits of
the file.  Every mutant must either analyse to a graph, or raise a SpecError whose diagnostics
all have a ``path:line:col`` location; any other exception is a bug.  A smaller sample goes
through the console script, which must exit 0 or 1, with ``file:line:col: error:`` lines and no
traceback.

Two profiles: the default run is quick (a few seconds); ``pytest -m fuzz`` runs the long one.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"

QUICK = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK_CLI = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG_CLI = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BRANCHY = """\
archspec: 1
name: branchy
input: [3, 64, 64]
variables: {width: 16, depths: [1, 2]}
defaults:
  conv2d: {kernel: 3, padding: same, bias: false}
blocks:
  mixed:
    params: {channels: int, pool: {type: block, default: maxpool2d}}
    body:
      - {conv2d: {channels: $channels, kernel: 1}, name: a, inputs: input}
      - {conv2d: $channels, name: b, inputs: input}
      - {$pool: {kernel: 3, stride: 1, padding: 1}, name: p, inputs: input}
      - {concat: [a, b, p], name: out}
layers:
  - {conv2d: {channels: $width, stride: 2}, name: stem}
  - batchnorm2d
  - relu
  - {mixed: {channels: 8}, name: m1}
  - repeat: "$depths[1]"
    name: stage
    body:
      - residual: {shortcut: projection}
        body:
          - conv2d: {channels: "${width * 2}", stride: "${2 if index == 0 else 1}"}
          - batchnorm2d
          - relu
  - residual:
      shortcut: [{conv2d: {channels: 48, kernel: 1}}, batchnorm2d]
      name: proj
    body: [{conv2d: 48}, batchnorm2d]
    name: widen
  - {conv2d: {channels: 32, kernel: 1}, inputs: m1.out, name: side}
  - {maxpool2d: {kernel: 2}, inputs: side, name: side_pool}
  - {conv2d: {channels: 32, kernel: 1}, inputs: widen, name: narrow}
  - {add: [narrow, side_pool], name: join}
  - global_avgpool
  - flatten
  - {linear: 10, name: head}
output: head
"""

KEYS = ["conv2d", "relu", "name", "inputs", "body", "repeat", "residual", "kernel", "channels", "stride",
        "padding", "groups", "dilation", "add", "concat", "linear", "flatten", "blocks", "params", "layers",
        "input", "variables", "extends", "defaults", "init", "output", "shortcut", "enabled", "index", "$x",
        "maxpool2d", "p", "features", "size", "ceil_mode", "description", "archspec"]
NAMES = ["input", "stem", "a", "b", "out", "m1", "m1.out", "stage", "stage.0", "stage.9", "conv1", "bn1",
         "fc1", "head", "side", "nowhere", "layer1", "layer1.0.conv1", "x.y.z", "shortcut"]
SCALARS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 7, 64, 2**24 + 1, 2**70, -(2**70), 0.5, 1e300, float("inf"), True, False,
                     None, "", "same", "valid", "auto", "identity", "projection", "relu", "conv2d", "input",
                     "$width", "$nope", "${", "$1/0", "$channels * 2", "$depths[9]", "$block", "$index",
                     "$$escaped", "${width // 0}", "$min()", "$len(depths)", "$[1, 2][5]", "$width if true",
                     "lib/resnet.yaml", "resnet18", "vgg16", "no/such/file.yaml", "int", "block",
                     "\t", "x" * 300]),
    st.integers(min_value=-1000, max_value=1000),
    st.text(max_size=12),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.sampled_from(KEYS), SCALARS,
                                                                          max_size=3))


# -- the documents -----------------------------------------------------------------------------

def _flattened(child: str) -> dict[str, Any]:
    """A ResNet with its library merged in, so mutations reach the blocks as well."""
    base = yaml.safe_load((SPECS / "lib" / "resnet.yaml").read_text())
    spec = yaml.safe_load((SPECS / child).read_text())
    merged = {**base, **{k: v for k, v in spec.items() if k not in ("extends", "variables")}}
    merged["variables"] = {**base["variables"], **spec.get("variables", {})}
    return merged


def base_documents() -> dict[str, str]:
    """name -> YAML text: every built-in spec as written, a flattened ResNet, and the branchy spec."""
    documents = {path.stem: path.read_text() for path in sorted(SPECS.glob("*.yaml"))}
    documents["resnet18_flat"] = yaml.safe_dump(_flattened("resnet18.yaml"), sort_keys=False)
    documents["branchy"] = BRANCHY
    return documents


DOCUMENTS = base_documents()


# -- mutations ---------------------------------------------------------------------------------

Slot = tuple[Any, Any]  # (container, key or index)


def slots(node: Any) -> Iterator[Slot]:
    """Every place in the document that holds a value."""
    if isinstance(node, dict):
        for key in list(node):
            yield node, key
            yield from slots(node[key])
    elif isinstance(node, list):
        for index in range(len(node)):
            yield node, index
            yield from slots(node[index])


def layer_lists(node: Any, key: Any = None) -> Iterator[list[Any]]:
    """Every list of layer entries (under ``layers`` or ``body``)."""
    if isinstance(node, list) and key in ("layers", "body"):
        yield node
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from layer_lists(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from layer_lists(child, None)


def _pick(data: st.DataObject, items: list[Any]) -> Any:
    return items[data.draw(st.integers(0, len(items) - 1))] if items else None


def _typo(data: st.DataObject, word: str) -> str:
    if not word:
        return "x"
    at = data.draw(st.integers(0, len(word) - 1))
    edit = data.draw(st.sampled_from(["replace", "insert", "delete", "swap", "case"]))
    letter = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_0123456789$."))
    if edit == "replace":
        return word[:at] + letter + word[at + 1:]
    if edit == "insert":
        return word[:at] + letter + word[at:]
    if edit == "delete":
        return word[:at] + word[at + 1:]
    if edit == "swap" and at + 1 < len(word):
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    return word.upper()


def _as_mapping(entries: list[Any], index: int) -> dict[Any, Any]:
    """Entry ``index`` of a layer list as a mapping (``relu`` becomes ``{relu: null}``)."""
    entry = entries[index]
    if not isinstance(entry, dict):
        entry = {entry: None} if isinstance(entry, str) else {"identity": None}
        entries[index] = entry
    return entry


def wrong_value(doc: Any, data: st.DataObject) -> None:
    container, key = _pick(data, list(slots(doc))) or (doc, "name")
    container[key] = data.draw(VALUES)


def remove(doc: Any, data: st.DataObject) -> None:
    container, key = _pick(data, list(slots(doc))) or (doc, "name")
    del container[key]


def extra_key(doc: Any, data: st.DataObject) -> None:
    mappings = [doc, *(value for container, key in slots(doc) if isinstance(value := container[key], dict))]
    target = _pick(data, mappings)
    target[data.draw(st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=8)))] = data.draw(VALUES)


def key_typo(doc: Any, data: st.DataObject) -> None:
    keyed = [(c, k) for c, k in slots(doc) if isinstance(c, dict) and isinstance(k, str)]
    found = _pick(data, keyed)
    if found:
        container, key = found
        container[_typo(data, key)] = container.pop(key)


def kind_typo(doc: Any, data: st.DataObject) -> None:
    entries = [(layers, i) for layers in layer_lists(doc) for i in range(len(layers))]
    found = _pick(data, entries)
    if found:
        layers, index = found
        entry = layers[index]
        if isinstance(entry, str):
            layers[index] = _typo(data, entry)
        elif isinstance(entry, dict) and entry:
            kind = next((k for k in entry if k not in ("name", "inputs", "body", "index")), None)
            if isinstance(kind, str):
                entry[_typo(data, kind)] = entry.pop(kind)


def dangling_name(doc: Any, data: st.DataObject) -> None:
    entries = [(layers, i) for layers in layer_lists(doc) for i in range(len(layers))]
    found = _pick(data, entries)
    if found:
        entry = _as_mapping(*found)
        entry["inputs"] = data.draw(st.one_of(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3)))


def duplicate_name(doc: Any, data: st.DataObject) -> None:
    layers = _pick(data, [ls for ls in layer_lists(doc) if len(ls) >= 2])
    if layers:
        first = data.draw(st.integers(0, len(layers) - 2))
        second = data.draw(st.integers(first + 1, len(layers) - 1))
        name = data.draw(st.sampled_from(NAMES))
        _as_mapping(layers, first)["name"] = name
        _as_mapping(layers, second)["name"] = name


def cycle(doc: Any, data: st.DataObject) -> None:
    layers = _pick(data, [ls for ls in layer_lists(doc) if len(ls) >= 2])
    if layers:
        first = data.draw(st.integers(0, len(layers) - 2))
        second = data.draw(st.integers(first + 1, len(layers) - 1))
        a, b = _as_mapping(layers, first), _as_mapping(layers, second)
        a["name"], b["name"] = "cyc_a", "cyc_b"
        a["inputs"], b["inputs"] = "cyc_b", "cyc_a"


def shape_break(doc: Any, data: st.DataObject) -> None:
    """Sizes and layers that keep the spec well formed but may break its shapes."""
    choice = data.draw(st.sampled_from(["size", "input", "insert"]))
    if choice == "input":
        doc["input"] = data.draw(st.lists(st.integers(1, 300), min_size=1, max_size=4))
        return
    if choice == "size":
        sized = [(c, k) for c, k in slots(doc) if k in ("channels", "kernel", "stride", "padding", "dilation",
                                                        "groups", "features", "size", "repeat")]
        found = _pick(data, sized)
        if found:
            container, key = found
            container[key] = data.draw(st.one_of(st.integers(0, 600), st.lists(st.integers(0, 20), min_size=2,
                                                                               max_size=2)))
        return
    layers = _pick(data, list(layer_lists(doc)))
    if layers is not None:
        new = data.draw(st.sampled_from([
            "flatten", "global_avgpool", {"linear": 10}, {"conv2d": {"channels": 6, "kernel": 5, "groups": 3}},
            {"maxpool2d": 7}, {"concat": ["input", "input"]}, {"add": ["input", "stem"]},
            {"conv2d": {"channels": 4, "kernel": 3, "stride": 9, "dilation": 4}},
            {"avgpool2d": {"kernel": 3, "padding": 1, "ceil_mode": True}}, {"adaptive_avgpool2d": [3, 1]},
            {"residual": "identity", "body": [{"conv2d": 3}]}, {"repeat": 40, "body": [{"maxpool2d": 2}]},
        ]))
        layers.insert(data.draw(st.integers(0, len(layers))), copy.deepcopy(new))


MUTATIONS: dict[str, Callable[[Any, st.DataObject], None]] = {
    "wrong_value": wrong_value, "remove": remove, "extra_key": extra_key, "key_typo": key_typo,
    "kind_typo": kind_typo, "dangling_name": dangling_name, "duplicate_name": duplicate_name, "cycle": cycle,
    "shape_break": shape_break,
}


def byte_edits(text: bytes, data: st.DataObject) -> bytes:
    edited = bytearray(text)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(edited)))
        byte = data.draw(st.one_of(st.sampled_from(b"\t\r\n :-[]{}&*!|>'\"#%@`,?$\x00\x85\xc3\xff"),
                                   st.integers(0, 255)))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "insert" or at == len(edited):
            edited.insert(at, byte)
        elif action == "replace":
            edited[at] = byte
        else:
            del edited[at]
    return bytes(edited)


def mutant(data: st.DataObject) -> tuple[bytes, list[str]]:
    """A mutated spec file's bytes, and the mutations applied (for the failure report)."""
    name = data.draw(st.sampled_from(sorted(DOCUMENTS)))
    text = DOCUMENTS[name]
    applied = [name]
    if data.draw(st.integers(0, 4)) == 0:
        applied.append("byte_edits")
        return byte_edits(text.encode(), data), applied
    doc = yaml.safe_load(text)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(sorted(MUTATIONS)))
        applied.append(kind)
        with contextlib.suppress(KeyError, IndexError, TypeError):
            MUTATIONS[kind](doc, data)  # may not apply to what earlier mutations left
    dumped = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return dumped.encode(), applied


# -- the properties ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of specs/, so that a mutant's ``extends: lib/resnet.yaml`` finds the library."""
    target = tmp_path_factory.mktemp("mutants") / "specs"
    shutil.copytree(SPECS, target)
    return target


LOCATED = re.compile(r"^.+:\d+:\d+: error: ")


def check_mutant_in_process(workspace: Path, data: st.DataObject) -> None:
    content, applied = mutant(data)
    path = workspace / "mutant.yaml"
    path.write_bytes(content)
    try:
        graph = archspec.analyse(archspec.load(path))
    except SpecError as error:
        assert error.diagnostics, applied
        for diagnostic in error.diagnostics:
            location = diagnostic.location
            assert location is not None, (applied, diagnostic.message)
            assert location.path and location.line >= 1 and location.column >= 1, (applied, location)
            assert LOCATED.match(diagnostic.format()), (applied, diagnostic.format())
        return
    assert graph.nodes and graph.output in {node.name for node in graph.nodes}, applied


def check_mutant_through_cli(workspace: Path, data: st.DataObject) -> None:
    content, applied = mutant(data)
    path = workspace / "mutant.yaml"
    path.write_bytes(content)
    script = Path(sys.executable).with_name("archspec")
    environment = {key: value for key, value in os.environ.items() if key != "ARCHSPEC_DEBUG"}
    result = subprocess.run([str(script), "validate", str(path)], capture_output=True, text=True,
                            encoding="utf-8", errors="replace", timeout=120, env=environment)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (applied, result.stderr)
    assert result.returncode in (0, 1), (applied, result.returncode, result.stderr)
    if result.returncode == 1:
        headlines = [line for line in result.stderr.splitlines() if "error:" in line and not line.startswith(" ")]
        assert headlines, (applied, result.stderr)
        for line in headlines:
            assert LOCATED.match(line) and line.startswith(str(workspace)), (applied, line)


@QUICK
@given(data=st.data())
def test_mutants_give_a_graph_or_located_errors(workspace: Path, data: st.DataObject) -> None:
    check_mutant_in_process(workspace, data)


@QUICK_CLI
@given(data=st.data())
def test_mutants_through_the_cli_exit_1_with_located_errors(workspace: Path, data: st.DataObject) -> None:
    check_mutant_through_cli(workspace, data)


@pytest.mark.fuzz
@LONG
@given(data=st.data())
def test_mutants_long(workspace: Path, data: st.DataObject) -> None:
    check_mutant_in_process(workspace, data)


@pytest.mark.fuzz
@LONG_CLI
@given(data=st.data())
def test_mutants_through_the_cli_long(workspace: Path, data: st.DataObject) -> None:
    check_mutant_through_cli(workspace, data)


def test_every_base_document_is_valid(workspace: Path) -> None:
    """The mutations start from valid specs, so a failure is the mutation's doing."""
    for name, text in DOCUMENTS.items():
        path = workspace / f"base_{name}.yaml"
        path.write_text(text)
        assert archspec.analyse(archspec.load(path)).nodes, name


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_each_mutation_changes_the_document(kind: str) -> None:
    """No mutation is a silent no-op (a fuzzer that mutates nothing finds nothing)."""
    original = yaml.safe_load(BRANCHY)
    changed: list[bool] = []

    @settings(max_examples=20, deadline=None, database=None)
    @given(data=st.data())
    def mutate(data: st.DataObject) -> None:
        doc = copy.deepcopy(original)
        MUTATIONS[kind](doc, data)
        changed.append(doc != original)

    mutate()
    assert sum(changed) >= len(changed) // 2
