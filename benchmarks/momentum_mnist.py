"""Source 002's MNIST table, reproduced: momentum by hand, course_lib SGD, torch SGD, no momentum.

The 784-200-10 ReLU MLP (``course_lib.models.mlp``), inputs scaled to [-1, 1] as in source 002,
cross-entropy, batch 64, learning rate 1e-2, 5 epochs, reshuffled every epoch. Four runs per seed,
each from the same initial weights and over the same batches:

* ``hand (D)``: source 002's hand-written momentum, ``v = μ v + γ g; θ = θ − v`` (form (D) of
  chapter 3), μ = 0.9;
* ``course_lib``: ``course_lib.optim.SGD(lr=1e-2, momentum=0.9)``;
* ``torch``: ``torch.optim.SGD(lr=1e-2, momentum=0.9)``;
* ``none``: ``course_lib.optim.SGD(lr=1e-2)``.

For every epoch it prints the mean training loss over the epoch's minibatches (what the source
reports) beside the source's numbers, the wall time of each run (the source reports 27-31 s per
run on its machine), and the largest per-epoch difference between the three momentum runs. With
several ``--seeds`` it also prints the mean and spread over seeds, which sets the tolerance the
chapter uses when it compares its one-epoch run with the source. This prints a table; it is not a
test and exits 0.

    python benchmarks/momentum_mnist.py [--epochs 5] [--seeds 0 1 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from course_lib import get_device
from course_lib.data import mnist_tensors
from course_lib.models import mlp
from course_lib.optim import SGD

#: Per-epoch mean training loss reported by source 002 (momentum: its hand-written run).
SOURCE = {
    "hand (D)": [0.369268, 0.179249, 0.127735, 0.102495, 0.086471],
    "torch": [0.368348, 0.172883, 0.126296, 0.100889, 0.085021],
    "none": [0.745222, 0.364928, 0.318353, 0.291162, 0.268610],
}
RUNS = ("hand (D)", "course_lib", "torch", "none")


def train(kind: str, X: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> tuple[list[float], float]:
    """One run; returns the per-epoch mean training loss and the wall time in seconds."""
    torch.manual_seed(seed)
    model = mlp((784, 200, 10)).to(X.device)
    params = list(model.parameters())
    if kind == "course_lib":
        opt = SGD(params, lr=1e-2, momentum=0.9)
    elif kind == "torch":
        opt = torch.optim.SGD(params, lr=1e-2, momentum=0.9)
    elif kind == "none":
        opt = SGD(params, lr=1e-2)
    else:
        opt = None
    velocities = [torch.zeros_like(p) for p in params]
    shuffle = torch.Generator().manual_seed(seed + 1000)
    means = []
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=shuffle).to(X.device)
        total, count = torch.zeros((), device=X.device), 0
        for i in range(0, len(X), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            model.zero_grad()
            loss.backward()
            if opt is None:
                with torch.no_grad():
                    for p, v in zip(params, velocities):
                        v.mul_(0.9).add_(p.grad, alpha=1e-2)  # v = μ v + γ g
                        p.sub_(v)  # θ = θ − v
            else:
                opt.step()
            total += loss.detach()
            count += 1
        means.append((total / count).item())
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return means, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = get_device(args.device)
    X, y = mnist_tensors(train=True, device=device)
    X = (X - 0.5) / 0.5
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.epochs} epochs, seeds {args.seeds}")
    results: dict[str, list[list[float]]] = {k: [] for k in RUNS}
    for seed in args.seeds:
        print(f"\nseed {seed}")
        header = "run         " + "".join(f"  epoch {e + 1:<2}" for e in range(args.epochs)) + "   wall s"
        print(header)
        for kind in RUNS:
            means, wall = train(kind, X, y, args.epochs, seed)
            results[kind].append(means)
            print(f"{kind:12s}" + "".join(f"  {m:8.4f}" for m in means) + f"   {wall:6.1f}")
        for name, values in SOURCE.items():
            print(f"{'source ' + name:12s}"[:12] + "".join(f"  {m:8.4f}" for m in values[:args.epochs]))
        trio = [results[k][-1] for k in ("hand (D)", "course_lib", "torch")]
        gap = max(abs(a - b) for run in trio[1:] for a, b in zip(run, trio[0]))
        print(f"largest per-epoch difference among the three momentum runs: {gap:.2e}")
    if len(args.seeds) > 1:
        print("\nover seeds: mean ± standard deviation of the per-epoch mean loss")
        for kind in ("course_lib", "none"):
            cols = list(zip(*results[kind]))
            print(f"{kind:12s}" + "".join(f"  {statistics.mean(c):.3f}±{statistics.stdev(c):.3f}" for c in cols))


if __name__ == "__main__":
    main()
