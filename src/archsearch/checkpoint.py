"""Checkpoints that load with ``torch.load(..., weights_only=True)``.

A checkpoint holds the weights and everything needed to rebuild the network: the space
and its settings, the architecture string, the input shape, the classes and the
normalisation. Nothing in it is pickled code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archsearch.data.task import Task
from archsearch.errors import CheckpointError
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture

__all__ = ["save_checkpoint", "load_checkpoint", "load_model", "load_error_reason", "FORMAT"]

FORMAT = "archsearch.checkpoint/1"


def save_checkpoint(path: str | Path, model: nn.Module, space: SearchSpace, arch: Architecture,
                    task: Task) -> None:
    """Save weights and the recipe to rebuild the model."""
    info = task.info
    payload = {
        "format": FORMAT, "space": space.name, "space_config": space.config(), "arch": str(arch),
        "input_shape": list(task.input_shape), "n_classes": task.n_classes,
        "mean": [float(v) for v in info.get("mean", [])],
        "std": [float(v) for v in info.get("std", [])],
        "state_dict": model.state_dict(),
    }
    tmp = Path(str(path) + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_SHOULD = ("A checkpoint is a torch.save file of tensors, numbers, strings, lists and dicts, as "
           "archsearch.save_checkpoint writes it.")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load_error_reason(err: BaseException) -> str:
    """One line saying why ``torch.load(..., weights_only=True)`` refused a file.

    torch's own message advises loading with ``weights_only=False``, which runs any code
    the file holds; that advice, and torch's other advice, is never passed on. The line
    says what the file holds instead and what it should be.
    """
    text = _ANSI.sub("", str(err))
    found = _GLOBAL.search(text)
    if found:
        return (f"it holds a pickled object ({found.group(1)}), which is never loaded because "
                f"unpickling can run code. {_SHOULD}")
    inner = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n\n|$)", text, re.S)
    if inner or "Weights only load failed" in text:
        detail = " ".join(inner.group(1).split())[:100] if inner else "unreadable"
        return f"it is not a file torch.save writes ({detail}). {_SHOULD}"
    first = " ".join(text.split()).split(". ")[0].rstrip(".")[:150]
    if isinstance(err, OSError) or "zip" in first.lower() or "hasRecord" in first:
        shown = "" if isinstance(err, OSError) or not first else f" ({first})"  # Errno 22: no help
        return f"the file is truncated or not a torch.save zip file{shown}. {_SHOULD}"
    return f"{first or type(err).__name__}. {_SHOULD}"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); one-line errors for bad files."""
    try:
        if Path(path).is_file() and Path(path).stat().st_size == 0:
            raise CheckpointError(f"Cannot read checkpoint {path}: the file is empty. {_SHOULD}")
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"No checkpoint at {path}.") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        raise CheckpointError(f"Cannot read checkpoint {path}: {load_error_reason(err)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an archsearch checkpoint ({FORMAT}).")
    return payload


def _check_weights_fit(path: str | Path, space: SearchSpace, arch: Architecture,
                       payload: dict[str, Any]) -> None:
    """Refuse, before any weight is allocated, a network the file cannot hold.

    The network is first built on the ``meta`` device (shapes only, no memory): its
    weights must fit in the file's bytes (a checkpoint stores every weight in full, so a
    small file declaring a huge network is damaged or forged), and every weight the
    network has must be in the file with its shape.
    """
    try:
        with torch.device("meta"):
            skeleton = space.build(arch, payload["input_shape"], payload["n_classes"])
    except (RuntimeError, OverflowError, MemoryError) as err:  # sizes past what torch counts
        raise CheckpointError(
            f"Checkpoint {path} declares a network too large to build "
            f"({' '.join(str(err).split())[:120]}): its space_config, input_shape or n_classes "
            f"are not those of a real network.") from None
    expected = skeleton.state_dict()
    need = sum(t.numel() * t.element_size() for t in expected.values())
    size = Path(path).stat().st_size
    if need > size:
        n = sum(t.numel() for t in expected.values())
        raise CheckpointError(
            f"Checkpoint {path} declares a network of {n:,} weights ({need / 1e6:,.1f} MB) but "
            f"the file holds {size:,} bytes: it is damaged, or its space_config, input_shape or "
            f"n_classes ({payload['n_classes']}) are not those of its weights.")
    state = payload["state_dict"]
    for name, want in expected.items():
        got = state.get(name)
        if not isinstance(got, torch.Tensor):
            raise CheckpointError(f"Weights in {path} do not fit {arch}: the weight {name!r} is "
                                  f"missing ({len(state)} entries held).")
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"Weights in {path} do not fit {arch}: {name!r} is "
                                  f"{list(got.shape)} in the file, the network needs "
                                  f"{list(want.shape)}.")
    extra = sorted(set(state) - set(expected), key=str)
    if extra:
        raise CheckpointError(f"Weights in {path} do not fit {arch}: the file holds "
                              f"{len(extra)} weights the network lacks, e.g. {str(extra[0])[:80]!r}.")


def load_model(path: str | Path) -> nn.Module:
    """Rebuild the network of a checkpoint and load its weights, in one call.

    ``path`` is a checkpoint file, or a folder holding ``model.pt`` (what ``archsearch
    train`` and ``archsearch export`` write). The network comes back with its recipe as
    attributes: ``arch`` (the :class:`Architecture`), ``space`` (the search space, with
    its settings), ``input_shape`` (C, H, W), ``n_classes``, and ``mean`` and ``std`` (per
    channel: the model takes ``(x - mean) / std``).

    Example:
        >>> model = load_model("runs/digits/export")  # doctest: +SKIP
        >>> model.arch, model.input_shape  # doctest: +SKIP
    """
    from archsearch.spaces import create_space

    if Path(path).is_dir():
        path = Path(path) / "model.pt"
    payload = load_checkpoint(path)
    for key, kind in (("space", str), ("space_config", dict), ("arch", str),
                      ("input_shape", list), ("n_classes", int), ("state_dict", dict)):
        if not isinstance(payload.get(key), kind) or isinstance(payload.get(key), bool):
            raise CheckpointError(f"Checkpoint {path}: field {key!r} must be a {kind.__name__}. "
                                  f"Got {type(payload.get(key)).__name__}.")
    for key in ("mean", "std"):  # the normalisation, per channel; absent in older files
        value = payload.get(key, [])
        if not (isinstance(value, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in value)):
            raise CheckpointError(f"Checkpoint {path}: field {key!r} must be a list of finite "
                                  f"numbers (one per channel). Got {str(value)[:60]}.")
    space = create_space(payload["space"], **payload["space_config"])
    arch = space.parse(payload["arch"])
    _check_weights_fit(path, space, arch, payload)
    model = space.build(arch, payload["input_shape"], payload["n_classes"])
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CheckpointError(f"Weights in {path} do not fit {arch}: "
                              f"{' '.join(str(err).split())[:200]}") from None
    recipe = {"arch": arch, "space": space, "input_shape": tuple(payload["input_shape"]),
              "n_classes": payload["n_classes"], "mean": list(payload.get("mean", [])),
              "std": list(payload.get("std", []))}
    for name, value in recipe.items():  # plain attributes: not parameters, not in state_dict
        setattr(model, name, value)
    return model
