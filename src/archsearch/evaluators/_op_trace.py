"""Tracing a forward pass into keyed operation calls, and replaying and timing the calls.

Forward hooks on a network's leaf modules (those without children) and a torch function
mode for the tensor work done between them record one key per call:
``type(extra_repr) <- input shapes -> output shape`` for a module and
``function(arguments) -> output shape`` for a function. Calls asked for are captured
with copies of their arguments, so that each can be replayed, and timed, on its own.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

__all__ = ["OpTrace", "trace_ops"]


@dataclass
class OpTrace:
    """The timed calls of one forward pass, in call order.

    Args:
        keys: one key per call (a leaf module or a function outside leaves).
        n_leaves: how many of the calls are leaf modules.
        replays: for the call indices asked to be captured, a thunk that repeats the call.
    """

    keys: list[str] = field(default_factory=list)
    n_leaves: int = 0
    replays: dict[int, Callable[[], object]] = field(default_factory=dict)


def _shape(value: Any) -> str:
    """A tensor as its shape (and dtype unless float32), inside lists and tuples too."""
    if isinstance(value, Tensor):
        text = "x".join(str(s) for s in value.shape) or "scalar"
        return text if value.dtype == torch.float32 else f"{text}:{str(value.dtype)[6:]}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_shape(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def _args_text(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [_shape(a) for a in args] + [f"{k}={_shape(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _func_name(func: Callable[..., Any]) -> str:
    name = str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or func)
    for prefix, new in (("_VariableFunctionsClass.", "torch."), ("TensorBase.", "Tensor.")):
        if name.startswith(prefix):
            return new + name[len(prefix):]
    return name


def _has_tensor(out: Any) -> bool:
    if isinstance(out, (tuple, list)):
        return any(isinstance(o, Tensor) for o in out)
    return isinstance(out, Tensor)


def _copy(value: Any) -> Any:
    """A copy of call arguments that later calls cannot change (parameters are shared)."""
    if isinstance(value, Tensor) and not isinstance(value, nn.Parameter):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value) if type(value) in (list, tuple) else value
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _frozen(args: Any, kwargs: Any) -> tuple[Any, Any]:
    return _copy(tuple(args)), _copy(dict(kwargs))


class _Tracer(TorchFunctionMode):
    """Records function calls made outside leaf modules; leaf hooks add the modules."""

    def __init__(self, trace: OpTrace, capture: frozenset[int]) -> None:
        super().__init__()
        self.trace, self.capture, self.depth = trace, capture, 0
        self.pending: dict[int, str] = {}

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if self.depth:
            return func(*args, **kwargs)
        index = len(self.trace.keys)
        saved = _frozen(args, kwargs) if index in self.capture else None
        out = func(*args, **kwargs)
        if _has_tensor(out):
            self.trace.keys.append(f"{_func_name(func)}({_args_text(args, kwargs)}) -> {_shape(out)}")
            if saved is not None:
                self.trace.replays[index] = lambda: func(*saved[0], **saved[1])
        return out

    def enter(self, module: nn.Module, args: Any, kwargs: Any) -> None:
        self.depth += 1  # first, so the copies below are not recorded
        index = len(self.trace.keys)
        if index in self.capture:
            saved = _frozen(args, kwargs)
            self.trace.replays[index] = lambda: module(*saved[0], **saved[1])
        self.pending[id(module)] = _args_text(args, kwargs)

    def leave(self, module: nn.Module, out: Any) -> None:
        inputs = self.pending.pop(id(module))
        name = f"{type(module).__name__}({module.extra_repr()})"
        self.trace.keys.append(f"{name} <- {inputs} -> {_shape(out)}")
        self.trace.n_leaves += 1
        self.depth -= 1


def _model_device(model: nn.Module, default: torch.device) -> torch.device:
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return default


@torch.no_grad()
def trace_ops(model: nn.Module, x: Tensor, capture: Iterable[int] = ()) -> OpTrace:
    """The keyed calls of ``model(x)`` in eval mode; replays for the ``capture`` indices.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        >>> trace_ops(net, torch.zeros(1, 1, 5, 5)).keys[1]
        'ReLU() <- 1x2x3x3 -> 1x2x3x3'
    """
    trace = OpTrace()
    tracer = _Tracer(trace, frozenset(capture))
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [h for m in leaves for h in (
        m.register_forward_pre_hook(lambda m, a, k: tracer.enter(m, a, k), with_kwargs=True),
        m.register_forward_hook(lambda m, a, out: tracer.leave(m, out)))]
    was_training = model.training
    model.eval()
    try:
        with tracer:
            model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return trace


def _time_ms(thunks: Sequence[Callable[[], object]], device: torch.device, n_warmup: int,
             n_repeat: int) -> list[float]:
    """Median wall-clock milliseconds of one call of each thunk.

    The thunks are timed in turn, one call each per round, so that a burst of load from
    other processes inflates one round of every thunk rather than every round of a few.
    """
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    times: list[list[float]] = [[] for _ in thunks]
    with torch.no_grad():
        for _ in range(n_warmup):
            for thunk in thunks:
                thunk()
        sync()
        for _ in range(n_repeat):
            for thunk, samples in zip(thunks, times):
                start = time.perf_counter()
                thunk()
                sync()
                samples.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(samples) for samples in times]
