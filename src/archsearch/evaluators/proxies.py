"""Training-free scores of an untrained network: NASWOT and zero-cost proxies.

* ``naswot`` (Mellor et al., ICML 2021, "Neural architecture search without training"):
  each ReLU's on/off pattern on one minibatch is a binary code per input; the kernel
  ``K_H = sum over ReLU layers of c c^T + (1 - c)(1 - c)^T`` counts, for each pair of
  inputs, the units where they agree, and the score is ``log |det K_H|``.
* ``synflow`` (Tanaka et al., NeurIPS 2020; as a proxy, Abdelfattah et al., ICLR 2021):
  with every parameter replaced by its absolute value and batch norms as identities, the
  network's summed output on an all-ones input, in float64; the score sums
  ``theta * dR/dtheta`` over the convolution and linear weights.
* ``snip`` (Lee et al., ICLR 2019): ``sum |theta * dL/dtheta|`` of the cross-entropy on
  one minibatch; ``grad_norm``: the sum of the weights' gradient norms.
* ``grasp`` (Wang et al., ICLR 2020; as a proxy, Abdelfattah et al.): ``-sum theta * (H g)``
  with ``g`` the weights' gradient and ``H`` the Hessian of the loss, one Hessian-vector
  product by double backpropagation.
* ``fisher`` (Theis et al. 2018; as a proxy, Turner et al., ICLR 2020, and Abdelfattah et
  al.): for each channel of each convolution and linear output, half the batch mean of
  ``(sum over positions of activation * gradient)^2``, times the layer's fan-in (the
  reference gives each of the channel's weights that value), summed; ``fisher_channel``:
  the same without the fan-in.
* ``jacob_cov`` (the first NASWOT version): how uncorrelated the inputs' Jacobians are.
* ``params`` and ``flops``: the trivial baselines.

Every score uses the network in training mode on one seeded minibatch (synflow on ones),
so it is deterministic under the trial's seed.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch._utils.seeding import torch_generator
from archsearch.data import Task
from archsearch.errors import InvalidParameterError, TrialFailed
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.evaluators.cost import count_flops, count_params
from archsearch.training import resolve_device
from archsearch.types import Architecture, Objective

__all__ = ["PROXIES", "ZeroCostProxies", "fisher_channel_score", "fisher_score", "grad_norm_score",
           "grasp_score", "jacob_cov_score", "naswot_kernel", "naswot_score", "snip_score",
           "synflow_score"]

_WEIGHTED = (nn.Conv2d, nn.Linear)


def naswot_kernel(model: nn.Module, x: Tensor) -> Tensor:
    """The NASWOT kernel ``K_H`` (batch x batch, float64) of ``model`` on the batch ``x``.

    Raises:
        InvalidParameterError: the model has no ``nn.ReLU`` to take codes from.
    """
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise InvalidParameterError(
            f"NASWOT needs ReLU activations; {type(model).__name__} has no nn.ReLU module.")
    n = len(x)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def hook(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        # with z = 2c - 1 in {-1, 1}, c c^T + (1 - c)(1 - c)^T = (z z^T + units) / 2: one
        # matrix product instead of two (exact: integer counts below 2^24 in float32)
        z = (inputs[0].detach().reshape(n, -1) > 0).to(torch.float32).mul_(2).sub_(1)
        kernel.add_((z @ z.T).to(torch.float64).add_(z.shape[1]).mul_(0.5))

    handles = [m.register_forward_pre_hook(hook) for m in relus]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return kernel


def naswot_score(model: nn.Module, x: Tensor) -> float:
    """``log |det K_H|`` of the NASWOT kernel; ``-inf`` when the codes are not distinct."""
    return float(torch.linalg.slogdet(naswot_kernel(model, x))[1])


def _weights(model: nn.Module) -> list[Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, _WEIGHTED)]


def synflow_score(model: nn.Module, input_shape: Sequence[int]) -> float:
    """SynFlow of a float64 copy with absolute parameters and identity batch norms."""
    net = copy.deepcopy(model).double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    for m in net.modules():  # a fresh batch norm in eval mode only scales by 1/sqrt(1+eps)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.eval()
    device = next(net.parameters()).device
    ones = torch.ones(1, *input_shape, dtype=torch.float64, device=device)
    weights = _weights(net)
    grads = torch.autograd.grad(net(ones).sum(), weights, allow_unused=True,
                                materialize_grads=True)
    with torch.no_grad():
        return float(sum((w * g).sum() for w, g in zip(weights, grads)))


def snip_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """``sum |theta * dL/dtheta|`` over convolution and linear weights."""
    weights = _weights(model)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights, allow_unused=True,
                                materialize_grads=True)
    with torch.no_grad():
        return float(sum((w * g).abs().sum() for w, g in zip(weights, grads)))


def grad_norm_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """The sum of the L2 norms of the convolution and linear weights' gradients."""
    weights = _weights(model)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights, allow_unused=True,
                                materialize_grads=True)
    return float(sum(g.norm() for g in grads))


def grasp_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """GraSP: ``-sum theta * (H g)`` over convolution and linear weights (``H g`` exactly)."""
    weights = _weights(model)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights, create_graph=True,
                                allow_unused=True, materialize_grads=True)
    gdotg = sum((g.detach() * g).sum() for g in grads if g.requires_grad)
    if not isinstance(gdotg, Tensor):  # no weight's gradient depends on the weights
        return 0.0
    hg = torch.autograd.grad(gdotg, weights, allow_unused=True, materialize_grads=True)
    with torch.no_grad():
        return float(-sum((w * h).sum() for w, h in zip(weights, hg)))


def _fisher_channels(model: nn.Module, x: Tensor, y: Tensor) -> list[tuple[nn.Module, Tensor]]:
    """Each convolution and linear call's per-channel Fisher information, with its module.

    Per output ``a`` with gradient ``g``: ``0.5 * mean over the batch of (sum over positions
    of a * g)^2``, one value per output channel, in float64.
    """
    outputs: list[tuple[nn.Module, Tensor]] = []

    def keep(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if output.requires_grad:
            outputs.append((module, output))

    handles = [m.register_forward_hook(keep) for m in model.modules()
               if isinstance(m, _WEIGHTED)]
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        for h in handles:
            h.remove()
    grads = torch.autograd.grad(loss, [a for _, a in outputs], allow_unused=True,
                                materialize_grads=True)
    channels = []
    with torch.no_grad():
        for (module, a), g in zip(outputs, grads):
            per_channel = (a * g).flatten(2).sum(2) if a.dim() > 2 else a * g
            channels.append((module, per_channel.pow(2).mean(0).to(torch.float64) * 0.5))
    return channels


def fisher_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fisher information as the zero-cost proxy: each channel's, times its layer's fan-in.

    The reference (Abdelfattah et al., ICLR 2021) gives every weight of an output channel
    that channel's value (:func:`fisher_channel_score`'s terms) and sums over all weights,
    so each channel counts ``weight[0].numel()`` times: in-channels per group times the
    kernel's area for a convolution, in-features for a linear layer.
    """
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for module, per_channel in _fisher_channels(model, x, y):
        weight = module.weight
        assert isinstance(weight, Tensor)  # conv and linear layers: _fisher_channels' modules
        total += per_channel.sum() * weight[0].numel()
    return float(total)


def fisher_channel_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fisher information of the convolution and linear outputs' channels, summed unweighted.

    Per output ``a`` with gradient ``g``: ``0.5 * mean over the batch of (sum over positions
    of a * g)^2``, summed over channels and layers (Theis et al. 2018's pruning signal).
    """
    return float(sum((c.sum() for _, c in _fisher_channels(model, x, y)),
                     torch.zeros((), dtype=torch.float64)))


def jacob_cov_score(model: nn.Module, x: Tensor) -> float:
    """jacob_cov (the first version of NASWOT): how uncorrelated the input Jacobians are.

    The gradient of the summed outputs with respect to each input, flattened; their
    correlation matrix's eigenvalues ``v`` give ``-sum(log(v + k) + 1 / (v + k))`` with
    ``k = 1e-5``. NaN when an input's Jacobian is constant.
    """
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x, allow_unused=True, materialize_grads=True)
    corr = torch.corrcoef(grad.reshape(len(x), -1).to(torch.float64))
    if not bool(torch.isfinite(corr).all()):
        return math.nan
    v = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-(torch.log(v + k) + 1.0 / (v + k)).sum())


PROXIES = ("naswot", "synflow", "snip", "grad_norm", "grasp", "fisher", "fisher_channel",
           "jacob_cov", "params", "flops")
"""The scores :class:`ZeroCostProxies` computes, all maximised."""


class ZeroCostProxies(Evaluator):
    """Scores an architecture from its untrained network on one minibatch, in seconds.

    Metrics are the chosen proxies (see the module docstring), each larger-is-better,
    plus ``proxy_seconds``. The objective is the first proxy.

    Args:
        task: where the minibatch comes from (its training split).
        proxies: which scores to compute, from :data:`PROXIES`.
        batch_size: the minibatch size (NASWOT uses 128).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...

    Example:
        >>> import archsearch, numpy as np
        >>> from archsearch.data import load_task
        >>> space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
        >>> proxy = ZeroCostProxies(load_task("digits"), ("naswot", "params"), batch_size=32)
        >>> proxy.setup(space)
        >>> sorted(proxy.evaluate(space.sample(np.random.default_rng(0)), TrialContext(0, 1)))
        ['naswot', 'params', 'proxy_seconds']
    """

    name = "proxy"

    def __init__(self, task: Task, proxies: Sequence[str] = ("naswot",), batch_size: int = 128,
                 device: str = "auto") -> None:
        unknown = [p for p in proxies if p not in PROXIES]
        if not proxies or unknown:
            raise InvalidParameterError(f"Unknown proxy {unknown[0] if unknown else None!r}; "
                                        f"choose from {', '.join(PROXIES)}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
            raise InvalidParameterError(f"The proxy batch size must be an int >= 2. "
                                        f"Got {batch_size!r}.")
        self.task, self.proxies, self.batch_size = task, tuple(proxies), batch_size
        self.device = resolve_device(device)
        self.objectives = (Objective(self.proxies[0], "maximize"),)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "proxies": list(self.proxies), "batch_size": self.batch_size}

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        scores, seconds = self.scores(arch, ctx.seed)
        first = self.proxies[0]
        if not math.isfinite(scores[first]):
            raise TrialFailed(f"proxy {first} is {scores[first]}")
        return {**scores, "proxy_seconds": sum(seconds.values())}

    def scores(self, arch: Architecture, seed: int) -> tuple[dict[str, float], dict[str, float]]:
        """Each proxy's score of ``arch`` and the seconds it took (building included once).

        The network's initialisation and the minibatch both derive from ``seed``.
        """
        start = time.perf_counter()
        idx = torch.randperm(len(self.task.y_train), generator=torch_generator(seed))
        idx = idx[:self.batch_size]
        x = self.task.x_train[idx].to(self.device)
        y = self.task.y_train[idx].to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self.space.build(arch, self.task.input_shape, self.task.n_classes)
        model = model.to(self.device).train()
        if x.dim() == 4:  # convolutions run faster channels-last on the CPU
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            x = x.contiguous(memory_format=torch.channels_last)
        build = time.perf_counter() - start
        scores: dict[str, float] = {}
        seconds: dict[str, float] = {}
        for proxy in self.proxies:
            began = time.perf_counter()
            if proxy == "naswot":
                scores[proxy] = naswot_score(model, x)
            elif proxy == "synflow":
                scores[proxy] = synflow_score(model, self.task.input_shape)
            elif proxy == "snip":
                scores[proxy] = snip_score(model, x, y)
            elif proxy == "grad_norm":
                scores[proxy] = grad_norm_score(model, x, y)
            elif proxy == "grasp":
                scores[proxy] = grasp_score(model, x, y)
            elif proxy == "fisher":
                scores[proxy] = fisher_score(model, x, y)
            elif proxy == "fisher_channel":
                scores[proxy] = fisher_channel_score(model, x, y)
            elif proxy == "jacob_cov":
                scores[proxy] = jacob_cov_score(model, x)
            elif proxy == "flops":
                scores[proxy] = float(count_flops(model, self.task.input_shape))
            else:
                scores[proxy] = float(count_params(model))
            seconds[proxy] = time.perf_counter() - began + build
        return scores, seconds
