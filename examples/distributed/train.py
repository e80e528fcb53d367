"""Train an archspec network with torch.distributed: DDP, or FSDP2 from the meta device.

    torchrun --nproc-per-node 2 examples/distributed/train.py --mode ddp  resnet18
    torchrun --nproc-per-node 2 examples/distributed/train.py --mode fsdp resnet50

On CPU the ranks talk over gloo; with one GPU per rank (``torchrun --nproc-per-node 8`` on a node
with 8 GPUs) the same script uses NCCL and each rank's GPU, unchanged.  The data are random images
and labels (the point is the plumbing, not the accuracy): replace ``batches`` with your loader and a
DistributedSampler.  Every rank prints its parameter memory and its peak resident memory.

archspec's part is two calls: ``archspec.build(spec, device="meta")`` gives the full structure with
no storage, and ``archspec.reset_parameters(model, seed=...)`` initializes whatever storage the
parameters have (for FSDP2, each rank's shard) as the spec's ``init:`` says.  Everything else is
plain PyTorch.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import torch
import torch.distributed as dist

import archspec


def setup() -> torch.device:
    """Join the process group torchrun describes; one GPU per rank where there are GPUs."""
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", local_rank)
    dist.init_process_group("gloo")
    return torch.device("cpu")


def ddp_model(spec: str, shape: list[int] | None, device: torch.device, seed: int) -> torch.nn.Module:
    """Each rank builds the whole model; DDP keeps the replicas equal by averaging gradients."""
    from torch.nn.parallel import DistributedDataParallel

    model = archspec.build(spec, input_shape=shape, seed=seed, device=device)
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def fsdp_model(spec: str, shape: list[int] | None, device: torch.device, seed: int) -> torch.nn.Module:
    """No rank ever holds the whole model: build on meta, shard, allocate each shard, initialize it."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    model = archspec.build(spec, input_shape=shape, device="meta")
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    network_source = type(model).__module__
    blocks = [m for m in model.modules() if m is not model and type(m).__module__ == network_source]
    for block in reversed(blocks):  # bottom-up: the deepest blocks first, the whole model last
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device=device)
    archspec.reset_parameters(model, seed=seed)  # each rank fills its own shard
    return model


def batches(graph: archspec.Graph, batch: int, steps: int, device: torch.device):
    generator = torch.Generator().manual_seed(dist.get_rank())
    for _ in range(steps):
        images = torch.randn(batch, *graph.input_shape, generator=generator)
        labels = torch.randint(0, graph.output_shape[0], (batch,), generator=generator)
        yield images.to(device), labels.to(device)


def local_parameter_bytes(model: torch.nn.Module) -> int:
    total = 0
    for parameter in model.parameters():
        local = parameter.to_local() if hasattr(parameter, "to_local") else parameter
        total += local.numel() * local.element_size()
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", default="resnet18", help="a built-in spec name or a spec file")
    parser.add_argument("--mode", choices=["ddp", "fsdp"], default="fsdp")
    parser.add_argument("--input-shape", default="3,64,64", help="C,H,W ('spec': the spec's own)")
    parser.add_argument("--batch", type=int, default=8, help="per rank")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = setup()
    rank, world = dist.get_rank(), dist.get_world_size()
    shape = None if args.input_shape == "spec" else [int(d) for d in args.input_shape.split(",")]
    graph = archspec.analyse(args.spec, input_shape=shape)
    make = ddp_model if args.mode == "ddp" else fsdp_model
    started = time.perf_counter()
    model = make(args.spec, shape, device, args.seed)
    built = time.perf_counter() - started
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step, (images, labels) in enumerate(batches(graph, args.batch, args.steps, device)):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        if rank == 0:
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
    full = graph.parameters * 4
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    dist.barrier()
    for turn in range(world):  # one rank at a time, so that lines do not interleave
        if turn == rank:
            print(f"rank {rank}/{world} {args.mode}: {graph.name} parameters {local_parameter_bytes(model) / 1e6:,.1f} "
                  f"MB here of {full / 1e6:,.1f} MB (fp32), peak resident memory {peak / 1e6:,.0f} MB, "
                  f"model ready in {built:.1f} s", flush=True)
        dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
