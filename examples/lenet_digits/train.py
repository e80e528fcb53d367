"""Train the built-in LeNet-5 spec on scikit-learn's handwritten digits, on the CPU.

The 8x8 digits are resized to 24x24 and padded to 32x32 (LeNet-5's input, like MNIST's 28x28 in a
32x32 frame).  No download: the digits ship with scikit-learn.

    python examples/lenet_digits/train.py                 # ~15 epochs, well under a minute
    python examples/lenet_digits/train.py --epochs 3      # a quick check

Writes a plot of the training loss and test accuracy curves (default out/lenet_digits.png).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import archspec


def load_digits_32(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.pad(F.interpolate(images, size=(24, 24), mode="bilinear", align_corners=False), (4, 4, 4, 4))
    images = (images - images.mean()) / images.std()
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_x, test_x, train_y, test_y = train_test_split(images, labels, test_size=0.25, random_state=seed,
                                                        stratify=labels)
    return train_x, train_y, test_x, test_y


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predictions = model(images).argmax(dim=1)
    model.train()
    return float((predictions == labels).float().mean())


def train(epochs: int, batch_size: int = 32, seed: int = 0) -> dict[str, list[float]]:
    torch.manual_seed(seed)
    train_x, train_y, test_x, test_y = load_digits_32(seed)
    model = archspec.build("lenet5", seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    history: dict[str, list[float]] = {"loss": [], "test_accuracy": []}
    columns = (TextColumn("[bold]epoch {task.completed}/{task.total}"), BarColumn(),
               TextColumn("loss {task.fields[loss]:.3f}  test accuracy {task.fields[accuracy]:.1%}"),
               TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("train", total=epochs, loss=float("nan"), accuracy=0.0)
        for _ in range(epochs):
            order = torch.randperm(len(train_x))
            total = 0.0
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                loss = F.cross_entropy(model(train_x[batch]), train_y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss) * len(batch)
            history["loss"].append(total / len(train_x))
            history["test_accuracy"].append(accuracy(model, test_x, test_y))
            progress.update(task, advance=1, loss=history["loss"][-1], accuracy=history["test_accuracy"][-1])
    return history


def plot(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(epochs, history["loss"], marker="o")
    left.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    right.plot(epochs, [100 * a for a in history["test_accuracy"]], marker="o", color="tab:green")
    right.set(title="test accuracy", xlabel="epoch", ylabel="%")
    figure.suptitle("LeNet-5 (archspec spec lenet5) on scikit-learn digits")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=Path("out/lenet_digits.png"))
    args = parser.parse_args()
    started = time.perf_counter()
    history = train(args.epochs, seed=args.seed)
    elapsed = time.perf_counter() - started
    plot(history, args.plot)
    print(f"test accuracy {history['test_accuracy'][-1]:.2%} after {args.epochs} epochs in {elapsed:.1f} s; "
          f"plot: {args.plot}")


if __name__ == "__main__":
    main()
