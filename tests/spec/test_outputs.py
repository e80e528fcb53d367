"""``outputs:``: several named outputs, and the errors about them (located, with the file's others)."""

from __future__ import annotations

import pytest

from archspec import analyse
from archspec.errors import SpecError

SPEC = """archspec: 1
name: heads
input: [3, 8, 8]
layers:
  - {name: trunk, conv2d: {channels: 4, kernel: 3, padding: 1}}
  - flatten
  - {name: fc, linear: 10}
  - {name: side, conv2d: {channels: 2, kernel: 1}, inputs: trunk}
"""


def _errors(write_spec, outputs: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        analyse(str(write_spec(SPEC + outputs)))
    return [f"{d.location.line}:{d.location.column}: {d.message} | {d.hint}" if d.location else d.message
            for d in caught.value.diagnostics]


def test_outputs_are_named_and_the_first_is_the_main_one(write_spec) -> None:
    graph = analyse(str(write_spec(SPEC + "outputs:\n  features: side\n  logits: {layer: fc, training_only: true}\n")))
    assert graph.output == "side" and graph.several_outputs
    assert [(o.name, o.node, o.training_only) for o in graph.outputs] == [("features", "side", False),
                                                                        ("logits", "fc", True)]
    assert [o.name for o in graph.inference_outputs] == ["features"]


def test_a_spec_without_outputs_has_its_one_output_named_output(write_spec) -> None:
    graph = analyse(str(write_spec(SPEC)))
    assert not graph.several_outputs and [(o.name, o.node) for o in graph.outputs] == [("output", "side")]


def test_every_outputs_error_is_located_and_reported_with_the_others(write_spec) -> None:
    errors = _errors(write_spec, "outputs:\n  logits: fcc\n  again: side\n  twice: side\n  class: trunk\n"
                                 "  aux: {layer: trunk, training_onl: true}\n")
    assert errors == [
        "10:11: no layer named 'fcc' in this scope | did you mean 'fc'?",
        "12:10: layer 'side' is already the output 'again' | each output names a different layer",
        "13:3: output name 'class' is a Python keyword | outputs are fields of the module's named tuple: "
        "choose another name",
        "14:23: unknown key 'training_onl' | did you mean 'training_only'?",
    ]


def test_the_main_output_cannot_be_training_only_nor_given_twice(write_spec) -> None:
    errors = _errors(write_spec, "output: fc\noutputs:\n  logits: {layer: fc, training_only: true}\n  side: side\n")
    assert errors == [
        "10:1: 'output' and 'outputs' are both given | name the main output first under 'outputs:' and remove "
        "'output:'",
        "11:3: the main output 'logits' cannot be training-only | the first output is the main one, returned in "
        "every mode: list it first",
    ]


def test_a_duplicate_output_name_is_a_located_error(write_spec) -> None:
    errors = _errors(write_spec, "outputs:\n  logits: fc\n  logits: side\n")
    assert len(errors) == 1 and errors[0].startswith("11:3: ") and "logits" in errors[0]
