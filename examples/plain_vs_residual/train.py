"""Plain vs residual networks: does a deeper plain network train worse, and a residual one not?

He et al. (2015) observed that on CIFAR-10 a 56-layer plain network reaches a *higher training
error* than a 20-layer one - an optimization problem, not overfitting - while residual networks
of the same depths keep improving with depth.  This script trains both kinds at several depths
from one spec (`cifar_resnet.yaml`: depth 6n+2 from the variable `n`, shortcuts switched by the
variable `residual`) on the same data, and plots training loss against epochs.

Data: scikit-learn's handwritten digits (no download), 8x8 images upsampled to 32x32 and
replicated to 3 channels, 1,347 training images.  This is far smaller than CIFAR-10; see the docs
page for what that means for the result.

    python examples/plain_vs_residual/train.py                        # depths 8, 20, 32; 12 epochs
    python examples/plain_vs_residual/train.py --depths 1 3 --epochs 2   # a quick check (n values)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import archspec

SPEC = Path(__file__).resolve().parent / "cifar_resnet.yaml"


def load_data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    images = (images - images.mean()) / images.std()
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_x, _, train_y, _ = train_test_split(images, labels, test_size=0.25, random_state=seed, stratify=labels)
    return train_x, train_y


def train_one(n: int, residual: bool, epochs: int, data: tuple[torch.Tensor, torch.Tensor], seed: int,
              progress: Progress, batch_size: int = 64) -> list[float]:
    torch.manual_seed(seed)
    model = archspec.build(str(SPEC), variables={"n": n, "residual": residual}, seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    images, labels = data
    kind = "residual" if residual else "plain"
    task = progress.add_task(f"{kind}-{6 * n + 2}", total=epochs)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(images))
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(images))
        progress.advance(task)
    return losses


def plot(results: dict[str, list[list[float]]], path: Path) -> None:
    """Mean training loss per epoch over the seeds, with the range between the seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for axis, kind in zip(axes, ("plain", "residual"), strict=True):
        for name, runs in sorted(results.items(), key=lambda item: int(item[0].split("-")[1])):
            if not name.startswith(kind):
                continue
            epochs = range(1, len(runs[0]) + 1)
            mean = [sum(values) / len(values) for values in zip(*runs, strict=True)]
            line = axis.plot(epochs, mean, label=f"{name.split('-')[1]} layers")[0]
            if len(runs) > 1:
                low = [min(values) for values in zip(*runs, strict=True)]
                high = [max(values) for values in zip(*runs, strict=True)]
                axis.fill_between(epochs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
        axis.set(title=f"{kind} networks", xlabel="epoch", yscale="log")
        axis.legend()
    axes[0].set_ylabel("training loss (cross-entropy)")
    figure.suptitle("Training loss by depth, plain vs residual (archspec spec cifar_resnet)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 3, 5], help="values of n (depth 6n+2)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds to average over")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (networks this small run fastest on one; more threads only contend)")
    parser.add_argument("--out", type=Path, default=Path("out/plain_vs_residual"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(args.seed)
    results: dict[str, list[list[float]]] = {}
    started = time.perf_counter()
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        for seed in range(args.seed, args.seed + args.seeds):
            for n in args.depths:
                for residual in (False, True):
                    name = f"{'residual' if residual else 'plain'}-{6 * n + 2}"
                    results.setdefault(name, []).append(train_one(n, residual, args.epochs, data, seed, progress))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "losses.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out / "training_loss.png")
    print(f"trained {len(results)} networks in {time.perf_counter() - started:.0f} s")
    for name, runs in results.items():
        finals = ", ".join(f"{losses[-1]:.4f}" for losses in runs)
        print(f"  {name:>12}: final training loss {finals}")
    print(f"wrote {args.out / 'training_loss.png'} and {args.out / 'losses.json'}")


if __name__ == "__main__":
    main()
