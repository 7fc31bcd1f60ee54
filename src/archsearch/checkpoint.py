"""Checkpoints that load with ``torch.load(..., weights_only=True)``.

A checkpoint holds the weights and everything needed to rebuild the network: the space
and its settings, the architecture string, the input shape, the classes and the
normalisation. Nothing in it is pickled code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from archsearch.data.task import Task
from archsearch.errors import CheckpointError
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture

__all__ = ["save_checkpoint", "load_checkpoint", "load_model", "FORMAT"]

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


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); one-line errors for bad files."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"No checkpoint at {path}.") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        reason = " ".join(str(err).split())[:200]
        raise CheckpointError(f"Cannot read checkpoint {path}: {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an archsearch checkpoint ({FORMAT}).")
    return payload


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
    space = create_space(payload["space"], **payload["space_config"])
    arch = space.parse(payload["arch"])
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
