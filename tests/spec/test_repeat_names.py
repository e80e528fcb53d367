"""``names:`` of a named repeat: iterations named from ``index`` through scopes, state_dict and source."""

from __future__ import annotations

import pytest

from archspec import analyse
from archspec.errors import SpecError

SPEC = """archspec: 1
name: dense
input: [3, 8, 8]
blocks:
  unit:
    params: {c: int}
    body:
      - {conv2d: {channels: $c, kernel: 3, padding: 1}, name: conv}
      - relu
layers:
  - {repeat: 3, name: block1, names: NAMES, body: {unit: {c: 4}}}
"""


SIDE = "  - {conv2d: {channels: 4, kernel: 1}, inputs: block1.denselayer2, name: side}\n"


def _spec(names: str, tail: str = "") -> str:
    return SPEC.replace("NAMES", names) + tail


def _errors(write_spec, text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        analyse(str(write_spec(text)))
    return [f"{d.location.line}:{d.location.column}: {d.message}" for d in caught.value.diagnostics if d.location]


def test_iterations_take_their_names_from_index(write_spec) -> None:
    graph = analyse(str(write_spec(_spec('"denselayer${index + 1}"', SIDE))))
    scopes = {scope.path: scope for scope in graph.scopes}
    assert [scopes[f"block1.denselayer{i}"].index for i in (1, 2, 3)] == [0, 1, 2]
    assert "block1.0" not in scopes
    assert [n.name for n in graph.layers][:3] == ["block1.denselayer1.conv", "block1.denselayer1.relu1",
                                                  "block1.denselayer2.conv"]


def test_a_whole_expression_may_name_the_iterations(write_spec) -> None:
    graph = analyse(str(write_spec(_spec('"${index * 2}"'))))
    assert [s.path for s in graph.scopes if s.kind == "iteration"] == ["block1.0", "block1.2", "block1.4"]


def test_the_built_module_and_its_source_use_the_names(write_spec) -> None:
    torch = pytest.importorskip("torch")
    import archspec

    path = write_spec(_spec('"denselayer${index + 1}"', SIDE))
    model = archspec.build(str(path))
    assert list(model.state_dict())[:2] == ["block1.denselayer1.conv.weight", "block1.denselayer1.conv.bias"]
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 4, 8, 8)
    chained = archspec.build(str(write_spec(_spec('"denselayer${index + 1}"'))))
    assert type(chained.block1).__name__ == "Sequential" and "denselayer3.conv.weight" in chained.block1.state_dict()


@pytest.mark.parametrize(("names", "message"), [
    ('"same"', "repeat names: iterations 0 and 1 are both named 'same'"),
    ('"a.${index}"', "repeat names: iteration 0 is named the string 'a.0', which is not a layer name"),
    ('"${[1, 2][index]}"', "repeat names: index 2 is out of range"),
])
def test_bad_names_are_located_errors(write_spec, names: str, message: str) -> None:
    errors = _errors(write_spec, _spec(names))
    assert errors[0].startswith(f"11:38: {message}")


def test_names_need_a_named_repeat(write_spec) -> None:
    errors = _errors(write_spec, _spec('"l${index}"').replace("name: block1, ", ""))
    assert errors == ["11:24: 'names:' names the iterations of a named repeat, and this repeat has no name"]
