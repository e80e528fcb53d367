"""inception_v3's auxiliary head: a training-only output that equals torchvision's after porting."""

from __future__ import annotations

import pytest

from tests.zoo.harness import max_relative_difference, published, randomize_batch_norms, torchvision_model


def _without_dropout(module: object) -> None:
    import torch

    for layer in module.modules():  # type: ignore[attr-defined]
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0


def test_the_aux_head_is_a_training_only_output() -> None:
    import archspec

    graph = archspec.analyse("inception_v3")
    assert [(output.name, output.node, output.training_only) for output in graph.outputs] == [
        ("logits", "fc", False), ("aux_logits", "AuxLogits.fc", True)]
    assert graph.parameters == published("inception_v3").params


@pytest.mark.slow
def test_ported_aux_logits_equal_torchvision_in_training_mode() -> None:
    """Training mode, dropout off on both sides (batch norm uses the batch's statistics in both)."""
    import torch

    import archspec

    reference = torchvision_model("inception_v3")
    randomize_batch_norms(reference)
    model = archspec.build("inception_v3", seed=0)
    archspec.port_weights(model, reference.state_dict())
    for module in (reference, model):
        module.train()
        _without_dropout(module)
    sample = torch.randn(2, 3, 299, 299, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = reference(sample), model(sample)
    assert type(actual).__name__ == "InceptionV3Outputs"
    assert max_relative_difference(actual.logits, expected.logits) <= 1e-4
    assert max_relative_difference(actual.aux_logits, expected.aux_logits) <= 1e-4
    with torch.no_grad():
        assert isinstance(model.eval()(sample), torch.Tensor)  # eval mode: the logits alone, as torchvision
