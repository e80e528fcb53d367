"""Memory of a large network sharded over two ranks (issue 16), as a ratio to the full fp32 model.

* ``rank peak <spec>``: each rank's peak resident memory (the largest of the two, everything counted:
  Python, torch, the process group) / the full model's fp32 parameter bytes, for the model built on
  the meta device, its blocks sharded bottom-up with FSDP2 over 2 CPU ranks (gloo), ``to_empty`` and
  ``archspec.reset_parameters``.  Target 0.75 (for vit_h_14: 2.5 GB of parameters).
* ``rank added <spec>``: the same peak less the resident memory before the build (after importing
  torch and joining the process group) / the full model's bytes: what the build, sharding and
  initialization cost, about 0.5 when no rank ever holds more than its half.  Reported.
* ``refused <spec>``: peak resident memory of ``archspec compile SPEC --pt --memory-limit`` (half the
  model's size) / the model's bytes: the compile must fail with status 1 before allocating.  Reported.

The spec is vit_h_14 when the built-in specs have it, else resnet152; ``--spec NAME`` (or
$ARCHSPEC_BENCH_SHARDED_SPEC) picks another (any path or built-in name).

    python benchmarks/bench_sharded_init.py [--spec vgg19]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREFERRED = ("vit_h_14", "resnet152")
TARGET = 0.75


def default_spec() -> str:
    chosen = os.environ.get("ARCHSPEC_BENCH_SHARDED_SPEC")
    if chosen:
        return chosen
    from archspec.spec.builtin import builtin_spec_names, zoo_spec_names

    names = set(builtin_spec_names()) | set(zoo_spec_names())
    return next(name for name in PREFERRED if name in names)


TARGETS = {f"rank peak {default_spec()}": TARGET}


def main(quick: bool = False, spec: str | None = None) -> dict[str, float]:
    spec = spec or default_spec()
    from archspec.graph.lower import analyse

    graph = analyse(spec)
    full = graph.parameters * 4
    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                   __file__, "--rank", spec, directory]
        environment = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
        ranks = [json.loads(path.read_text()) for path in sorted(Path(directory).glob("rank*.json"))]
        refused = subprocess.run([sys.executable, __file__, "--refuse", spec, str(full // 2), directory],
                                 capture_output=True, text=True, env=environment)
    if refused.returncode != 0:
        raise RuntimeError(f"the refusal measurement failed: {refused.stderr}")
    refusal = json.loads(refused.stdout)
    if refusal["status"] != 1 or "memory" not in refusal["message"]:
        raise RuntimeError(f"compile under --memory-limit was not refused cleanly: {refusal}")
    peak = max(rank["peak"] for rank in ranks)
    added = max(rank["peak"] - rank["before"] for rank in ranks)
    print(f"{graph.name}: {graph.parameters:,} parameters, {full / 1e9:.2f} GB in fp32; 2 ranks")
    for rank in ranks:
        print(f"  rank {rank['rank']}: {rank['local'] / 1e9:.2f} GB of parameters, resident {rank['before'] / 1e9:.2f} "
              f"GB before the build, peak {rank['peak'] / 1e9:.2f} GB, {rank['seconds']:.1f} s")
    print(f"  compile --pt --memory-limit {full // 2}: exit {refusal['status']}, peak {refusal['peak'] / 1e9:.2f} GB")
    return {f"rank peak {spec}": peak / full, f"rank added {spec}": added / full,
            f"refused {spec}": refusal["peak"] / full}


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_rank(spec: str, directory: str) -> None:
    """One rank: build on meta, shard the blocks bottom-up, allocate the shards, initialize them."""
    import time

    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    import archspec

    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    before = resident_bytes()
    started = time.perf_counter()
    model = archspec.build(spec, device="meta")
    source = type(model).__module__
    for block in reversed([m for m in model.modules() if m is not model and type(m).__module__ == source]):
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    archspec.reset_parameters(model, seed=0)
    seconds = time.perf_counter() - started
    local = sum(p.to_local().numel() * p.element_size() for p in model.parameters())
    rank = dist.get_rank()
    Path(directory, f"rank{rank}.json").write_text(json.dumps(
        {"rank": rank, "before": before, "peak": peak_bytes(), "local": local, "seconds": seconds}))
    dist.barrier()
    dist.destroy_process_group()


def measure_refusal(spec: str, limit: str, directory: str) -> None:
    """``archspec compile --pt`` in this process under a limit below the model's size."""
    import contextlib
    import io

    from typer.testing import CliRunner

    from archspec.cli import app

    with contextlib.redirect_stderr(io.StringIO()):
        result = CliRunner().invoke(app, ["compile", spec, "--pt", "-q", "--memory-limit", limit,
                                          "--out-dir", directory])
    print(json.dumps({"status": result.exit_code, "message": result.output, "peak": peak_bytes()}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rank"]:
        measure_rank(*sys.argv[2:4])
    elif sys.argv[1:2] == ["--refuse"]:
        measure_refusal(*sys.argv[2:5])
    else:
        arguments = sys.argv[1:]
        chosen = arguments[arguments.index("--spec") + 1] if "--spec" in arguments else None
        print(main(quick="--full" not in arguments, spec=chosen))
