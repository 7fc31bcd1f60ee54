"""Seconds per architecture of each training-free proxy, at two settings.

(a) the Fashion-MNIST table's network (nb201, C=8, one cell per stage) on a batch of 128
1x28x28 inputs; (b) the NAS-Bench-201 CIFAR network (C=16, N=5) on 128 3x32x32 inputs.
Each time includes building the network. ``reference`` is NASWOT as the authors' code
computes it (two matrix products per ReLU layer, the kernel accumulated in numpy, then
numpy's slogdet), timed in the same run as the baseline; the authors' code takes about
1.2 s per architecture at setting (b) on 2 CPU cores.

    python benchmarks/proxy_speed.py [--archs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

import archsearch
from archsearch.data import Task
from archsearch.evaluators.proxies import PROXIES, ZeroCostProxies


def reference_naswot(space, arch, x: torch.Tensor, n_classes: int) -> float:  # type: ignore[no-untyped-def]
    net = space.build(arch, tuple(x.shape[1:]), n_classes).train()
    k = np.zeros((len(x), len(x)))

    def hook(module: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal k
        c = (inp[0].view(len(x), -1) > 0).float()
        k = k + (c @ c.t()).numpy() + ((1.0 - c) @ (1.0 - c.t())).numpy()

    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(x)
    return float(np.linalg.slogdet(k)[1])


def synthetic_task(shape: tuple[int, int, int], n: int = 256) -> Task:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, *shape, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    return Task("synthetic", x, y, x[:2], y[:2], x[:2], y[:2], 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = [("fashion-mnist table net, C=8 N=1, 1x28x28", 8, 1, (1, 28, 28)),
                ("NAS-Bench-201 net, C=16 N=5, 3x32x32", 16, 5, (3, 32, 32))]
    print(f"batch 128, {args.threads} threads, {args.archs} architectures, median s/arch")
    for title, channels, cells, shape in settings:
        space = archsearch.create_space("nb201", channels=channels, cells_per_stage=cells)
        task = synthetic_task(shape)
        archs = [space.sample(np.random.default_rng(i)) for i in range(args.archs)]
        times: dict[str, list[float]] = {p: [] for p in (*PROXIES, "reference")}
        proxy = ZeroCostProxies(task, PROXIES, batch_size=128, device="cpu")
        proxy.setup(space)
        x = task.x_train[:128]
        proxy.scores(archs[0], 0)  # warm-up
        for i, arch in enumerate(archs):
            _, seconds = proxy.scores(arch, i)
            for p, s in seconds.items():
                times[p].append(s)
            start = time.perf_counter()
            reference_naswot(space, arch, x, 10)
            times["reference"].append(time.perf_counter() - start)
        med = {p: statistics.median(v) for p, v in times.items()}
        print(f"{title}:")
        for p in (*PROXIES, "reference"):
            print(f"  {p:<10} {med[p]:7.3f} s")
        print(f"  naswot / reference = {med['naswot'] / med['reference']:.2f}", flush=True)


if __name__ == "__main__":
    main()
