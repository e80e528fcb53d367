"""One rank of the two-rank checks in test_distributed.py, started by torchrun (gloo, CPU).

    torchrun --standalone --nproc-per-node 2 tests/backends/torch/distributed_worker.py SPEC OUT.json

Rank 0 writes what it measured as JSON; every rank exits non-zero on an exception.
"""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

import archspec
from archspec.backends.torch import initialize

SEED = 11
STEPS = 2


def batches(rank: int, input_shape: tuple[int, ...], classes: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each rank's own batches, the same in every run."""
    generator = torch.Generator().manual_seed(1000 + rank)
    return [(torch.randn(4, *input_shape, generator=generator), torch.randint(0, classes, (4,), generator=generator))
            for _ in range(STEPS)]


def train(model: torch.nn.Module, data: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for inputs, labels in data:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The generated block modules (a class of the network's own source), deepest first."""
    source = type(model).__module__
    found = [module for module in model.modules() if module is not model and type(module).__module__ == source]
    return found[::-1]


def full_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: (tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor).detach().clone()
            for name, tensor in model.state_dict().items()}


def main() -> None:
    spec, out = sys.argv[1], sys.argv[2]
    initialize.CHUNK = 37  # small chunks, so that chunks straddle the shards' boundaries as in large models
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(rank)  # a different global random state on each rank: the seed must decide
    graph = archspec.analyse(spec)
    data = batches(rank, graph.input_shape, graph.output_shape[0])
    single = archspec.build(graph, seed=SEED)
    expected = {name: tensor.clone() for name, tensor in single.state_dict().items()}

    # DDP: build on each rank; reset_parameters through the wrapper; one gradient-averaged run
    ddp = DistributedDataParallel(archspec.build(graph, seed=SEED + 1))
    archspec.reset_parameters(ddp, seed=SEED)
    ddp_init_equal = all(torch.equal(ddp.module.state_dict()[k], expected[k]) for k in expected)
    ddp_losses = train(ddp, data)
    ddp_state = full_state(ddp.module)

    # FSDP2 from the meta device: shard bottom-up on a CPU mesh, to_empty, initialize each shard in place
    model = archspec.build(graph, device="meta")
    mesh = init_device_mesh("cpu", (world,))
    for block in blocks(model):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    archspec.reset_parameters(model, seed=SEED)
    local = sum(p.to_local().numel() for p in model.parameters())  # type: ignore[attr-defined]
    sharded = full_state(model)
    fsdp_init_equal = {k: torch.equal(sharded[k], expected[k]) for k in expected}
    fsdp_losses = train(model, data)
    fsdp_state = full_state(model)
    gap = max((fsdp_state[k].float() - ddp_state[k].float()).abs().max().item() for k in ddp_state)
    moved = any(not torch.equal(ddp_state[k], expected[k]) for k in expected if k.endswith("weight"))

    try:
        archspec.reset_parameters(archspec.build(graph, device="meta"))
        meta_error = ""
    except archspec.UsageError as exc:
        meta_error = str(exc)
    if rank == 0:
        with open(out, "w") as handle:
            json.dump({"world": world, "ddp_init_equal": ddp_init_equal, "fsdp_init_equal": fsdp_init_equal,
                       "ddp_losses": ddp_losses, "fsdp_losses": fsdp_losses, "step_gap": gap, "moved": moved,
                       "local_parameters": local, "parameters": graph.parameters, "meta_error": meta_error}, handle)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
