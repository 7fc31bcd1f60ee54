"""Seconds and peak memory of one DARTS search step on CPU: ours against the reference.

One step is the architecture step (first order: the gradient of the validation loss;
second order: through one virtual SGD step of the weights, with the finite-difference
Hessian-vector product of Liu et al., ICLR 2019, eqs. 6-8), then the weight step (train
loss, clip at 5, SGD 0.025 with momentum 0.9 and decay 3e-4), on DartsSupernet(C, 10,
layers) and synthetic CIFAR-sized train and validation batches.

``reference`` is the algorithm of quark0/darts (``cnn/architect.py``, ``cnn/train_search.py``),
transcribed onto our supernet with the plain weighted sum on every edge: a full backward in
the first-order step; a model rebuilt and loaded from a flat vector of w' for the unrolled
loss; the Hessian-vector product taken by adding to and subtracting from the real
parameters. ``ours`` is archsearch's ``Architect`` with the fast ``MixedOp``, in channels-last
layout unless ``--no-channels-last`` (the reference is NCHW, as published). Each (impl,
order) runs in a fresh process, since peak RSS is a high-water mark: one warm-up step, then
the median of ``--repeat`` steps. quark0/darts itself takes about 13 s (first order) and
34 s (second order) per step and peaks near 13 GB at the default setting on 2 CPU cores.

    python benchmarks/darts_step.py [--threads 2] [--batch 64] [--channels 16] [--layers 8]
        [--repeat 3] [--no-channels-last] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsearch.oneshot import Architect
from archsearch.ops import set_fast_mixing
from archsearch.spaces.darts_supernet import DartsSupernet

IMPLS = ("ours", "reference")
PUBLISHED = {"s_per_step": {1: 13.0, 2: 34.0}, "peak_gb": 13.0}  # quark0/darts, batch 64, C=16, 8 cells
LR, MOMENTUM, WEIGHT_DECAY, GRAD_CLIP = 0.025, 0.9, 3e-4, 5.0
ARCH_LR, ARCH_BETAS, ARCH_WEIGHT_DECAY = 3e-4, (0.5, 0.999), 1e-3


# --- reference: quark0/darts ----------------------------------------------------------------
def _concat(xs: Any) -> Tensor:
    return torch.cat([x.reshape(-1) for x in xs])


def _alpha_grads(loss: Tensor, alphas: list[nn.Parameter]) -> list[Tensor]:
    return list(torch.autograd.grad(loss, alphas, allow_unused=True, materialize_grads=True))


class ReferenceArchitect:
    """``cnn/architect.py`` of quark0/darts, line for line, on :class:`DartsSupernet`.

    The reference keeps its alphas outside ``parameters()``; here they are parameters of the
    supernet, so its ``model.parameters()`` reads ``net.weights()``. Gradients of alphas that
    the network does not use (the normal cells' when every cell reduces, at 2 layers) are
    zeros rather than an error.
    """

    def __init__(self, model: DartsSupernet, rebuild: Any) -> None:
        self.network_momentum = MOMENTUM
        self.network_weight_decay = WEIGHT_DECAY
        self.model = model
        self.rebuild = rebuild
        self.optimizer = torch.optim.Adam(model.arch_parameters(), lr=ARCH_LR, betas=ARCH_BETAS,
                                          weight_decay=ARCH_WEIGHT_DECAY)

    def _loss(self, model: DartsSupernet, x: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(model(x), y)

    def _compute_unrolled_model(self, x: Tensor, y: Tensor, eta: float,
                                network_optimizer: torch.optim.Optimizer) -> DartsSupernet:
        loss = self._loss(self.model, x, y)
        theta = _concat(self.model.weights()).data
        try:
            moment = _concat(network_optimizer.state[v]["momentum_buffer"]
                             for v in self.model.weights()).mul_(self.network_momentum)
        except KeyError:
            moment = torch.zeros_like(theta)
        dtheta = (_concat(torch.autograd.grad(loss, self.model.weights())).data
                  + self.network_weight_decay * theta)
        return self._construct_model_from_theta(theta.sub(eta * (moment + dtheta)))

    def step(self, xt: Tensor, yt: Tensor, xv: Tensor, yv: Tensor, eta: float,
             network_optimizer: torch.optim.Optimizer, unrolled: bool) -> None:
        self.optimizer.zero_grad()
        if unrolled:
            self._backward_step_unrolled(xt, yt, xv, yv, eta, network_optimizer)
        else:
            self._loss(self.model, xv, yv).backward()
        self.optimizer.step()

    def _backward_step_unrolled(self, xt: Tensor, yt: Tensor, xv: Tensor, yv: Tensor, eta: float,
                                network_optimizer: torch.optim.Optimizer) -> None:
        unrolled_model = self._compute_unrolled_model(xt, yt, eta, network_optimizer)
        self._loss(unrolled_model, xv, yv).backward()
        dalpha = [torch.zeros_like(v) if v.grad is None else v.grad
                  for v in unrolled_model.arch_parameters()]
        vector = [v.grad.data for v in unrolled_model.weights()]  # type: ignore[union-attr]
        implicit_grads = self._hessian_vector_product(vector, xt, yt)
        for g, ig in zip(dalpha, implicit_grads):
            g.data.sub_(eta * ig.data)
        for v, g in zip(self.model.arch_parameters(), dalpha):
            if v.grad is None:
                v.grad = g.data.clone()
            else:
                v.grad.data.copy_(g.data)

    def _construct_model_from_theta(self, theta: Tensor) -> DartsSupernet:
        model_new = self.rebuild()
        for x, y in zip(model_new.arch_parameters(), self.model.arch_parameters()):
            x.data.copy_(y.data)
        model_dict = self.model.state_dict()
        arch = {id(p) for p in self.model.arch_parameters()}
        params, offset = {}, 0
        for k, v in self.model.named_parameters():
            if id(v) in arch:
                continue
            length = int(np.prod(v.size()))
            params[k] = theta[offset:offset + length].view(v.size())
            offset += length
        assert offset == len(theta)
        model_dict.update(params)
        model_new.load_state_dict(model_dict)
        return model_new  # type: ignore[no-any-return]

    def _hessian_vector_product(self, vector: list[Tensor], x: Tensor, y: Tensor,
                                r: float = 1e-2) -> list[Tensor]:
        R = r / _concat(vector).norm()
        for p, v in zip(self.model.weights(), vector):
            p.data.add_(R * v)
        grads_p = _alpha_grads(self._loss(self.model, x, y), self.model.arch_parameters())
        for p, v in zip(self.model.weights(), vector):
            p.data.sub_(2 * R * v)
        grads_n = _alpha_grads(self._loss(self.model, x, y), self.model.arch_parameters())
        for p, v in zip(self.model.weights(), vector):
            p.data.add_(R * v)
        return [(a - b).div_(2 * R) for a, b in zip(grads_p, grads_n)]




# --- one configuration, in its own process ------------------------------------------------------
def measure(impl: str, order: int, args: argparse.Namespace) -> dict[str, Any]:
    """Time ``1 + repeat`` steps of one configuration in this process."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (args.batch, 3, 32, 32)
    xt, xv = torch.randn(shape), torch.randn(shape)
    yt, yv = torch.randint(0, 10, (args.batch,)), torch.randint(0, 10, (args.batch,))

    def build() -> DartsSupernet:
        net = DartsSupernet(args.channels, 10, args.layers)
        set_fast_mixing(net, impl == "ours")
        if impl == "ours" and args.channels_last:
            net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return net

    net = build()
    if impl == "ours" and args.channels_last:
        xt, xv = (x.contiguous(memory_format=torch.channels_last) for x in (xt, xv))
    w_opt = torch.optim.SGD(net.weights(), LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    if impl == "reference":
        architect: Any = ReferenceArchitect(net, build)
        source = "quark0/darts algorithm in this script, plain sum, NCHW"

        def step() -> None:
            architect.step(xt, yt, xv, yv, LR, w_opt, unrolled=order == 2)
            w_opt.zero_grad()
            loss = F.cross_entropy(net(xt), yt)
            loss.backward()
            nn.utils.clip_grad_norm_(net.weights(), GRAD_CLIP)
            w_opt.step()
    else:
        a_opt = torch.optim.Adam(net.arch_parameters(), ARCH_LR, betas=ARCH_BETAS,
                                 weight_decay=ARCH_WEIGHT_DECAY)
        architect = Architect(net, w_opt, a_opt, order=1 if order == 1 else 2)
        source = "archsearch.oneshot.Architect, fast MixedOp" + (
            ", channels-last" if args.channels_last else ", NCHW")

        def step() -> None:
            architect.step(xt, yt, xv, yv)
            w_opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xt), yt)
            loss.backward(inputs=net.weights())
            nn.utils.clip_grad_norm_(net.weights(), GRAD_CLIP)
            w_opt.step()

    net.train()
    rss_before = _peak_rss_mb()
    times = []
    for _ in range(1 + args.repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {
        "impl": impl, "order": order, "source": source, "s_per_step": statistics.median(times[1:]),
        "warmup_s": times[0], "steps_s": times[1:], "peak_mb": _peak_rss_mb(),
        "rss_before_mb": rss_before, "channels_last": impl == "ours" and args.channels_last,
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _run_child(impl: str, order: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", f"{impl}:{order}", "--threads", str(args.threads),
           "--batch", str(args.batch), "--channels", str(args.channels), "--layers",
           str(args.layers), "--repeat", str(args.repeat)]
    cmd.append("--channels-last" if args.channels_last else "--no-channels-last")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{impl} order {order} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                        help="run ours in channels-last layout (the reference stays NCHW)")
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated subset of "
                        + ", ".join(IMPLS))
    parser.add_argument("--orders", default="1,2", help="comma-separated subset of 1,2")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_interop_threads(1)
    if args.child:
        impl, order = args.child.split(":")
        print(json.dumps(measure(impl, int(order), args)))
        return

    load_before = os.getloadavg()
    results = [_run_child(impl, int(order), args)
               for order in args.orders.split(",") for impl in args.impls.split(",")]
    load_after = os.getloadavg()
    ratios = {}
    for order in sorted({r["order"] for r in results}):
        by = {r["impl"]: r for r in results if r["order"] == order}
        if {"ours", "reference"} <= set(by):
            ratios[order] = {key: by["ours"][key] / by["reference"][key]
                             for key in ("s_per_step", "peak_mb")}
    report = {
        "setting": {k: getattr(args, k) for k in ("threads", "batch", "channels", "layers",
                                                    "repeat", "channels_last")},
        "torch": torch.__version__, "results": results,
        "ratios": {str(k): v for k, v in ratios.items()}, "published_quark0": PUBLISHED,
        "loadavg_before": load_before, "loadavg_after": load_after,
    }
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report, ratios)
    sys.stdout.flush()
    if load_before[0] > args.threads:  # after the run, the load includes our own threads
        print(f"warning: the load average was {load_before[0]:.2f} before the run, more than "
              f"{args.threads} threads; these timings share the CPU with other work",
              file=sys.stderr)


def _print_table(report: dict[str, Any], ratios: dict[int, dict[str, float]]) -> None:
    s = report["setting"]
    print(f"DartsSupernet({s['channels']}, 10, {s['layers']}), batch {s['batch']}, "
          f"{s['threads']} threads, torch {report['torch']}")
    print(f"{'impl':<10} {'order':>5} {'s/step':>8} {'peak MB':>9}  source")
    for r in report["results"]:
        print(f"{r['impl']:<10} {r['order']:>5} {r['s_per_step']:>8.2f} {r['peak_mb']:>9.0f}  "
              f"{r['source']}")
    for order, ratio in ratios.items():
        print(f"ours/reference, order {order}: time {ratio['s_per_step']:.2f}, "
              f"peak memory {ratio['peak_mb']:.2f}")
    p = report["published_quark0"]
    print(f"published quark0/darts at batch 64, C=16, 8 cells: {p['s_per_step'][1]:.0f} s "
          f"(first order), {p['s_per_step'][2]:.0f} s (second order) per step, "
          f"~{p['peak_gb']:.0f} GB peak")
    print("load average (1, 5, 15 min): before " + ", ".join(f"{x:.2f}" for x in report["loadavg_before"])
          + "; after " + ", ".join(f"{x:.2f}" for x in report["loadavg_after"]))


if __name__ == "__main__":
    main()
