"""``archsearch export``: the trained model as ONNX, TorchScript or a state dict, checked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from archsearch.cli import _common
from archsearch.cli._json import dumps
from archsearch.errors import CheckpointError, InvalidParameterError


def add_parser(commands: Any) -> None:
    p = commands.add_parser("export", help="export a trained model (ONNX, TorchScript, weights)",
                            description="Export the model trained by 'archsearch train' (a run "
                            "directory's final/model.pt, or --checkpoint). Each export is run on "
                            "a batch and compared with PyTorch; the largest absolute difference "
                            "is printed. The folder also gets model.pt and model.json, so "
                            "archsearch.load_model(FOLDER) rebuilds the model.")
    p.add_argument("run_dir", nargs="?", help="a run directory whose best model was trained")
    p.add_argument("--checkpoint", help="a checkpoint written by 'archsearch train' (model.pt); "
                   "with --arch, a plain state dict of that architecture's network")
    p.add_argument("--arch", help="the architecture string of a plain state dict given with "
                   "--checkpoint; --space, its settings and --dataset (input shape, classes, "
                   "normalisation) describe the network")
    p.add_argument("--format", default="onnx,torchscript,state_dict",
                   help="comma-separated: onnx (pip install 'archsearch[export]'), torchscript, "
                   "state_dict (default: all three)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/export, or beside the "
                   "checkpoint)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _common.add_space_args(p)
    data = p.add_argument_group("data (with --arch)")
    data.add_argument("--dataset", help="the dataset the weights were trained on (default: digits)")
    data.add_argument("--data-dir", help="folder holding the dataset files")
    data.add_argument("--data-path", help="the file or folder of an npz or image-folder dataset")
    data.add_argument("--image-size", type=int, help="the side images were resized to")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from archsearch.export import export_model

    if bool(args.run_dir) == bool(args.checkpoint):
        raise InvalidParameterError("Give a run directory or --checkpoint FILE (one of them).")
    if args.arch and not args.checkpoint:
        raise InvalidParameterError("--arch goes with --checkpoint STATE_DICT (the weights of "
                                    "that architecture's network).")
    described = [f"--{k.replace('_', '-')}" for k in ("space", "channels", "cells", "space_args",
                 "dataset", "data_dir", "data_path", "image_size") if getattr(args, k) is not None]
    if described and not args.arch:  # the checkpoint says how to rebuild the network
        raise InvalidParameterError(f"{described[0]} describes the network of a plain state "
                                    "dict: it goes with --checkpoint FILE --arch ARCH.")
    if args.arch:
        _common.check_flags(_common.resolve(args), args)
    if args.run_dir:
        checkpoint = Path(args.run_dir) / "final" / "model.pt"
        if not checkpoint.is_file():
            raise InvalidParameterError(f"No trained model in {args.run_dir}: run 'archsearch "
                                        f"train --run-dir {args.run_dir}' first.")
        out = Path(args.out or Path(args.run_dir) / "export")
    else:
        checkpoint = Path(args.checkpoint)
        out = Path(args.out or checkpoint.parent / "export")
    _common.make_dir(out, "--out")
    if args.arch:  # a plain state dict: make the checkpoint that says how to rebuild it
        checkpoint = _checkpoint_from_state_dict(args, checkpoint, out / "model.pt")
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    diffs = export_model(checkpoint, out, formats)
    if args.json:
        print(dumps({"out": str(out), "max_abs_difference": diffs}))
        return 0
    info = json.loads((out / "model.json").read_text())
    for fmt, diff in diffs.items():
        print(f"{fmt:<12} {out / info['files'][fmt]}   max |difference| vs PyTorch {diff:.3g}")
    print(f"{'recipe':<12} {out / 'model.json'}  (archsearch.load_model({str(out)!r}))")
    return 0


def _checkpoint_from_state_dict(args: argparse.Namespace, weights: Path, dest: Path) -> Path:
    import torch

    from archsearch.checkpoint import load_error_reason, save_checkpoint

    cfg = _common.resolve(args, None, {"val_fraction": 0.2, "n_train": None})
    space = _common.build_space(cfg)
    arch = space.parse(args.arch)
    task = _common.build_task(cfg)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"No state dict at {weights}.") from None
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        raise CheckpointError(f"Cannot read state dict {weights}: "
                              f"{load_error_reason(err)}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # an archsearch checkpoint given with --arch
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{weights} is not a state dict (a mapping of names to tensors).")
    model = space.build(arch, task.input_shape, task.n_classes)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as err:
        raise CheckpointError(f"Weights in {weights} do not fit {arch} in the {space.name} space "
                              f"with these settings: {' '.join(str(err).split())[:200]}") from None
    save_checkpoint(dest, model, space, arch, task)
    return dest
