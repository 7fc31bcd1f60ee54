"""Export a trained model where it is deployed: ONNX, TorchScript or a plain state dict.

Every export folder holds ``model.pt`` (the checkpoint: weights plus everything needed to
rebuild the network, so ``archsearch.load_model(folder)`` works) and ``model.json`` (the
space, architecture string, input shape, classes and normalisation, readable without
torch), beside the exported files. Each export is checked: the exported model runs on a
seeded batch and its outputs are compared with PyTorch's (the largest absolute
difference is returned).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from archsearch._utils.imports import require
from archsearch.checkpoint import load_checkpoint, load_model
from archsearch.errors import InvalidParameterError

__all__ = ["FORMATS", "export_model"]

FORMATS = ("onnx", "torchscript", "state_dict")
FILES = {"onnx": "model.onnx", "torchscript": "model.ts", "state_dict": "state_dict.pt"}


def export_model(checkpoint: str | Path, out: str | Path, formats: Sequence[str] = FORMATS,
                 batch_size: int = 8, seed: int = 0) -> dict[str, float]:
    """Export the model of ``checkpoint`` into the folder ``out``.

    Returns, for each format, the largest absolute difference between the exported
    model's outputs and PyTorch's on a seeded batch of ``batch_size`` normal inputs
    (0.0 for the state dict, which is the weights themselves).

    Raises:
        InvalidParameterError: an unknown format.
        CheckpointError: an unreadable checkpoint.
        MissingDependencyError: ONNX asked for without ``archsearch[export]`` installed.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InvalidParameterError(f"Unknown export format {unknown[0] if unknown else None!r}; "
                                    f"choose from {', '.join(FORMATS)}.")
    out = Path(out)
    payload = load_checkpoint(checkpoint)
    model = load_model(checkpoint)
    arch = model.arch
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, *payload["input_shape"], generator=gen)
    with torch.no_grad():
        expected = model(x)
    out.mkdir(parents=True, exist_ok=True)
    if Path(checkpoint).resolve() != (out / "model.pt").resolve():
        with _replaced(out / "model.pt") as tmp:
            shutil.copyfile(checkpoint, tmp)
    diffs: dict[str, float] = {}
    for fmt in dict.fromkeys(formats):
        with _replaced(out / FILES[fmt]) as path:  # a killed export leaves no half-written file
            if fmt == "state_dict":
                torch.save(model.state_dict(), path)
                diffs[fmt] = 0.0
            elif fmt == "torchscript":
                traced = torch.jit.trace(model, x[:1], check_trace=False)  # type: ignore[no-untyped-call]
                traced.save(str(path))
                with torch.no_grad():
                    got = torch.jit.load(str(path))(x)  # type: ignore[no-untyped-call]
                diffs[fmt] = float((got - expected).abs().max())
            else:
                diffs[fmt] = _export_onnx(model, x, expected, path)
    info: dict[str, Any] = {
        "format": "archsearch.model/1", "space": payload["space"],
        "space_config": payload["space_config"], "arch": str(arch),
        "input_shape": payload["input_shape"], "n_classes": payload["n_classes"],
        "mean": payload.get("mean", []), "std": payload.get("std", []),
        "input": "float32 N x C x H x W, normalised as (x - mean) / std per channel",
        "files": {"checkpoint": "model.pt", **{f: FILES[f] for f in diffs}},
        "max_abs_difference": diffs,
    }
    with _replaced(out / "model.json") as path:
        path.write_text(json.dumps(info, indent=2) + "\n")
    return diffs


@contextlib.contextmanager
def _replaced(path: Path) -> Iterator[Path]:
    """Write to a temporary name beside ``path``; it becomes ``path`` only once complete."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _export_onnx(model: torch.nn.Module, x: torch.Tensor, expected: torch.Tensor,
                 path: Path) -> float:
    require("onnx", "export")
    require("onnxscript", "export")
    ort = require("onnxruntime", "export")
    batch = torch.export.Dim("batch", min=1, max=4096)
    exporter_log = logging.getLogger("torch.onnx")  # e.g. "torchvision is not installed"
    level = exporter_log.level
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter's progress lines and deprecations
        exporter_log.setLevel(logging.ERROR)
        try:
            torch.onnx.export(model, (x,), str(path), input_names=["input"],
                              output_names=["logits"],
                              dynamic_shapes={_forward_arg(model): {0: batch}}, dynamo=True,
                              external_data=False, verbose=False)
        finally:
            exporter_log.setLevel(level)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return float((torch.from_numpy(got) - expected).abs().max())


def _forward_arg(model: torch.nn.Module) -> str:
    import inspect

    params = list(inspect.signature(model.forward).parameters)
    return params[0] if params else "x"
