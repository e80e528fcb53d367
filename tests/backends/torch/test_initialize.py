"""build() draws the spec's init schemes itself, in parallel: the same distributions as torch.nn.init
(what the generated init_weights() calls), reproducible from the seed whatever the thread count."""

from __future__ import annotations

import math

import pytest
import torch

import archspec
from archspec.backends.torch.initialize import distribution
from archspec.spec.model import InitScheme

SPEC = """\
archspec: 1
name: schemes
input: [64, 24, 24]
init:
  conv2d: {{{conv}}}
  linear: {{{linear}}}
layers:
  - conv2d: {{channels: 256, kernel: 3}}
  - global_avgpool
  - flatten
  - linear: 4096
"""

SCHEMES = [
    ("weight: kaiming_normal, mode: fan_out, bias: zeros", "weight: normal, std: 0.01, bias: ones"),
    ("weight: kaiming_uniform, mode: fan_in, nonlinearity: tanh", "weight: xavier_normal"),
    ("weight: xavier_uniform, bias: zeros", "weight: kaiming_normal, nonlinearity: leaky_relu, mode: fan_in"),
    ("weight: zeros", "weight: ones, bias: zeros"),
]


def reference(shape: tuple[int, ...], scheme: InitScheme) -> torch.Tensor:
    """The same scheme through torch.nn.init, the way the generated init_weights() applies it."""
    tensor = torch.empty(shape)
    weight = scheme.weight
    if weight.startswith("kaiming"):
        getattr(torch.nn.init, f"{weight}_")(tensor, mode=scheme.mode, nonlinearity=scheme.nonlinearity)
    elif weight == "normal":
        torch.nn.init.normal_(tensor, std=scheme.std)
    else:
        getattr(torch.nn.init, f"{weight}_")(tensor)
    return tensor


@pytest.mark.parametrize(("conv", "linear"), SCHEMES)
def test_weights_follow_the_same_distribution_as_torch_nn_init(write_spec, conv, linear):
    path = write_spec(SPEC.format(conv=conv, linear=linear))
    graph = archspec.analyse(str(path))
    model = archspec.build(str(path), seed=0)
    for name in ("conv1", "fc1"):
        scheme = graph.init[graph.node(name).op]
        ours = model.get_submodule(name).weight.detach()
        theirs = reference(tuple(ours.shape), scheme)
        if scheme.bias != "default":
            assert torch.all(model.get_submodule(name).bias == (1.0 if scheme.bias == "ones" else 0.0))
        spread = theirs.std().item()
        if spread == 0:  # zeros, ones
            assert torch.equal(ours, theirs)
            continue
        standard_error = spread / math.sqrt(ours.numel())
        assert abs(ours.mean().item()) <= 5 * standard_error and abs(theirs.mean().item()) <= 5 * standard_error
        assert ours.std().item() == pytest.approx(spread, rel=0.01)
        assert ours.abs().max().item() <= max(theirs.abs().max().item() * 1.5, 1e-9)


def test_uniform_bounds_are_exactly_torchs():
    scheme = InitScheme(weight="kaiming_uniform", mode="fan_in", nonlinearity="relu")
    drawn = distribution((256, 64, 3, 3), scheme)
    assert drawn is not None and drawn.kind == "uniform"
    assert drawn.b == pytest.approx(math.sqrt(2) * math.sqrt(3 / (64 * 9)))


def test_reproducible_from_the_seed_whatever_the_thread_count(write_spec):
    path = write_spec(SPEC.format(conv="weight: kaiming_normal", linear="weight: normal"))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = archspec.build(str(path), seed=3).state_dict()
        torch.set_num_threads(2)
        two = archspec.build(str(path), seed=3).state_dict()
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(one[key], two[key]) for key in one)
    other = archspec.build(str(path), seed=4).state_dict()
    assert not torch.equal(one["fc1.weight"], other["fc1.weight"])
