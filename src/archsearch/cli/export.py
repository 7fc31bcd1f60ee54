"""``archsearch export``: the trained model as ONNX, TorchScript or a state dict, checked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from archsearch.cli import _common
from archsearch.errors import InvalidParameterError


def add_parser(commands: Any) -> None:
    p = commands.add_parser("export", help="export a trained model (ONNX, TorchScript, weights)",
                            description="Export the model trained by 'archsearch train' (a run "
                            "directory's final/model.pt, or --checkpoint). Each export is run on "
                            "a batch and compared with PyTorch; the largest absolute difference "
                            "is printed. The folder also gets model.pt and model.json, so "
                            "archsearch.load_model(FOLDER) rebuilds the model.")
    p.add_argument("run_dir", nargs="?", help="a run directory whose best model was trained")
    p.add_argument("--checkpoint", help="a checkpoint written by 'archsearch train' (model.pt)")
    p.add_argument("--format", default="onnx,torchscript,state_dict",
                   help="comma-separated: onnx (pip install 'archsearch[export]'), torchscript, "
                   "state_dict (default: all three)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/export, or beside the "
                   "checkpoint)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from archsearch.export import export_model

    if bool(args.run_dir) == bool(args.checkpoint):
        raise InvalidParameterError("Give a run directory or --checkpoint FILE (one of them).")
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
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    diffs = export_model(checkpoint, out, formats)
    if args.json:
        print(json.dumps({"out": str(out), "max_abs_difference": diffs}, indent=2))
        return 0
    info = json.loads((out / "model.json").read_text())
    for fmt, diff in diffs.items():
        print(f"{fmt:<12} {out / info['files'][fmt]}   max |difference| vs PyTorch {diff:.3g}")
    print(f"{'recipe':<12} {out / 'model.json'}  (archsearch.load_model({str(out)!r}))")
    return 0
