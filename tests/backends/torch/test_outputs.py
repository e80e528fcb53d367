"""Several outputs in the torch module: a named tuple; training-only heads run only in training mode."""

from __future__ import annotations

from pathlib import Path

import torch

import archspec
from archspec.backends.torch.source import generate

DATA = Path(__file__).parents[2] / "data" / "outputs"


def test_a_training_only_head_returns_in_training_and_eval_gives_the_main_tensor() -> None:
    model = archspec.build(str(DATA / "two_heads.yaml"), seed=0)
    sample = torch.randn(2, 3, 16, 16)
    trained = model.train()(sample)
    assert type(trained).__name__ == "TwoHeadsOutputs" and trained._fields == ("logits", "aux_logits")
    assert trained.logits.shape == (2, 10) and trained.aux_logits.shape == (2, 5)
    evaluated = model.eval()(sample)
    assert isinstance(evaluated, torch.Tensor) and torch.allclose(evaluated, trained.logits)


def test_several_inference_outputs_are_a_named_tuple_in_both_modes() -> None:
    model = archspec.build(str(DATA / "three_heads.yaml"), seed=0).eval()
    outputs = model(torch.randn(1, 3, 16, 16))
    assert outputs._fields == ("logits", "aux_logits", "features") and outputs.aux_logits is None
    assert outputs.features.shape == (1, 2, 16, 16)


def test_the_source_guards_the_training_only_head() -> None:
    text = generate(archspec.analyse(str(DATA / "two_heads.yaml"))).text
    assert "from typing import NamedTuple" in text and "class TwoHeadsOutputs(NamedTuple):" in text
    forward = text[text.index("def forward"):]
    assert "if self.training:\n            x = self.aux_pool(x)" in forward
    assert forward.rstrip().endswith("return TwoHeadsOutputs(logits=out, aux_logits=x)\n        return out")


def test_torch_compile_fullgraph_takes_the_named_tuple() -> None:
    model = archspec.build(str(DATA / "two_heads.yaml"), seed=0).train()
    sample = torch.randn(2, 3, 16, 16)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    expected, actual = model(sample), compiled(sample)
    assert type(actual).__name__ == "TwoHeadsOutputs"
    assert all(torch.equal(a, e) for a, e in zip(actual, expected, strict=True))
