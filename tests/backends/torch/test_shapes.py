"""Static shapes equal dynamic shapes: for every built-in spec and for random specs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import archspec
from archspec.backends.torch import build_module
from archspec.spec.builtin import builtin_spec_names
from tests.backends.torch.shapes import check_shapes
from tests.strategies import analyse_document, specs
from tests.zoo.marks import spec_param

SMALL_INPUTS = {
    "alexnet": (3, 64, 64), "vgg16": (3, 32, 32), "vgg19": (3, 32, 32), "resnet18": (3, 64, 64),
    "resnet34": (3, 64, 64), "resnet50": (3, 64, 64), "resnet101": (3, 64, 64), "resnet152": (3, 64, 64),
    "plain34": (3, 64, 64),
}
"""Smaller inputs where a spec allows them (adaptive pooling before the classifier)."""
LARGE = {"vgg16", "vgg19", "resnet101", "resnet152", "alexnet_paper", "vit_b_32", "swin_t", "convnext_tiny"}
TRANSFORMERS = ["convnext_tiny", "vit_b_32", "swin_t"]  # one zoo model per transformer-era family (specs/zoo)


@pytest.mark.parametrize("name", [spec_param(n, large=n in LARGE) for n in builtin_spec_names() + TRANSFORMERS])
def test_builtin_spec_runtime_shapes_are_the_inferred_ones(name):
    graph = archspec.analyse(name, input_shape=SMALL_INPUTS.get(name))
    model = build_module(graph, seed=0).eval()
    with torch.no_grad():
        seen = check_shapes(model, graph)
    assert sum(p.numel() for p in model.parameters()) == graph.parameters
    if any(node.op == "add" for node in graph.layers):
        assert any(graph.node(n).op == "add" for n in seen), "no residual sum was observed"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=specs())
def test_random_spec_shapes_parameters_and_gradients(document):
    graph = analyse_document(document)
    model = build_module(graph, seed=0).train()
    assert sum(p.numel() for p in model.parameters()) == graph.parameters
    check_shapes(model, graph)
    inputs = torch.randn(2, *graph.input_shape, requires_grad=True)
    model(inputs).square().mean().backward()
    assert inputs.grad is not None
    assert all(p.grad is not None for p in model.parameters()), "a parameter got no gradient"
