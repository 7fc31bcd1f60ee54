"""``archsearch train``: train one architecture to the end and measure it on the test split.

The training state is saved after every epoch (``OUT/training.pt``); the same command run
again after a kill continues from the last finished epoch, exactly as if uninterrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from archsearch._utils.seeding import torch_generator
from archsearch.checkpoint import load_error_reason, save_checkpoint
from archsearch.cli import _common
from archsearch.cli.search import CONFIG, STORE
from archsearch.errors import CheckpointError, InvalidParameterError
from archsearch.evaluators.cost import count_params
from archsearch.reports.summary import load_run
from archsearch.storage.lock import StoreLock
from archsearch.training import evaluate_model, resolve_device, train_model

TRAIN_DEFAULTS = {"epochs": 20, "crop_padding": None, "hflip": True, "out": None,
                  "label_smoothing": 0.0, "drop_path": 0.0, "aux_weight": 0.0, "ema": 0.0}
STATE, STATE_FORMAT = "training.pt", "archsearch.training/2"
_RUN_ONLY = ("device", "threads", "out")  # may change when a killed training is rerun


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "train", help="train an architecture to the end",
        description="Train one architecture on training + validation data and report its test "
        "accuracy. Give --space/--arch, or --run-dir to train the best of a search.")
    p.add_argument("--arch", help="the architecture string")
    p.add_argument("--run-dir", help="train the best architecture of this search run")
    p.add_argument("--out", help="output folder for model.pt and metrics.json "
                   "(default: RUN_DIR/final, else runs/train)")
    _common.add_space_args(p)
    _common.add_data_args(p)
    _common.add_train_args(p, epochs_default=20)
    _common.add_recipe_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.run_dir:
        return _run(args)
    # shared: trainings of one run may go together, but not beside its search
    with StoreLock(Path(args.run_dir) / STORE, shared=True, what="training"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    stored, arch_text = _from_run_dir(args)
    cfg = _common.resolve(args, stored, TRAIN_DEFAULTS)
    _common.check_flags(cfg, args)  # before any data is loaded or anything written
    _common.set_threads(cfg)
    if arch_text is None:
        raise InvalidParameterError("Give the architecture with --arch (and --space), "
                                    "or --run-dir to train the best of a search.")
    if cfg["aux_weight"] and cfg["space"] == "darts":  # its networks have the head on request
        cfg["space_args"] = {**_common.space_args(cfg["space_args"]), "auxiliary": True}
    space = _common.build_space(cfg)
    arch = space.parse(arch_text)
    train_cfg = _common.build_train(cfg)
    train_cfg.check()
    task = _common.build_task({**cfg, "n_train": None})  # --n-train counts train + val here
    if cfg["crop_padding"] is None:  # the usual: pad by an eighth of the side
        cfg["crop_padding"] = max(1, task.input_shape[1] // 8)
    augment = _common.build_augment(cfg, task)
    out = Path(cfg["out"] or (Path(args.run_dir) / "final" if args.run_dir else "runs/train"))
    _common.make_dir(out, "--out")

    device = resolve_device(cfg["device"])
    torch.manual_seed(cfg["seed"])
    model = space.build(arch, task.input_shape, task.n_classes).to(device)
    x, y = _common.subsample(*task.train_and_val(), cfg["n_train"], cfg["seed"])
    x, y = x.to(device), y.to(device)
    print(f"training {arch} ({count_params(model)} parameters) on {task.name}: "
          f"{len(y)} examples, {train_cfg.n_epochs} epochs, {augment}", file=sys.stderr)
    start = time.perf_counter()

    def on_epoch(epoch: int, loss: float) -> None:
        print(f"  epoch {epoch:3d}/{train_cfg.n_epochs}  loss {loss:.4f}  "
              f"[{time.perf_counter() - start:.0f}s]", file=sys.stderr)

    state_path = out / STATE
    identity = {"arch": str(arch), "settings": {k: v for k, v in sorted(cfg.items())
                                                 if k not in _RUN_ONLY}}
    resume = _unfinished(state_path, identity)
    if resume is not None:
        print(f"  resuming after epoch {resume['epoch']} from {state_path}", file=sys.stderr)

    def save_state(state: dict[str, Any]) -> None:  # each epoch: a kill loses one at most
        tmp = state_path.with_name(STATE + ".tmp")
        torch.save({"format": STATE_FORMAT, "identity": json.dumps(identity, sort_keys=True),
                    "state": state}, tmp)
        tmp.replace(state_path)

    history = train_model(model, x, y, train_cfg, generator=torch_generator(cfg["seed"]),
                          augment=None if augment.is_identity else augment, on_epoch=on_epoch,
                          save_state=save_state, resume=resume)
    seconds = history[-1]["seconds"]
    test_loss, test_acc = evaluate_model(model, task.x_test.to(device), task.y_test.to(device))
    metrics = {"test_accuracy": test_acc, "test_loss": test_loss, "train_seconds": seconds,
               "params": count_params(model), "epochs": train_cfg.n_epochs,
               "train_examples": len(y),
               "history": history}
    save_checkpoint(out / "model.pt", model, space, arch, task)
    _common.write_json(out / "metrics.json", {"arch": str(arch), "dataset": task.name, **metrics,
                                               "settings": cfg})
    state_path.unlink(missing_ok=True)  # finished: model.pt is what remains
    print(f"test accuracy {test_acc:.4f} ({len(task.y_test)} test examples) after "
          f"{seconds:.0f}s of training; saved {out / 'model.pt'}")
    return 0


def _unfinished(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The training state left in ``path`` by a killed run of the same training, if any."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable state is reported the same way
        raise CheckpointError(f"Cannot read the unfinished training {path}: "
                              f"{load_error_reason(err)}; delete it to start "
                              "over.") from None
    if not isinstance(saved, dict) or saved.get("format") != STATE_FORMAT or \
            not isinstance(saved.get("state"), dict):
        raise CheckpointError(f"{path} is not an archsearch training state; delete it to "
                              "start over.")
    if saved.get("identity") != json.dumps(identity, sort_keys=True):
        raise InvalidParameterError(
            f"{path} holds an unfinished training of another architecture or other settings; "
            "use another --out, or delete it to start over.")
    state: dict[str, Any] = saved["state"]
    return state


def _from_run_dir(args: argparse.Namespace) -> tuple[dict[str, Any] | None, str | None]:
    if not args.run_dir:
        return None, args.arch
    run_dir = Path(args.run_dir)
    config = _common.check_settings(_common.read_json(run_dir / CONFIG, "run configuration"),
                                    run_dir / CONFIG)
    best = load_run(run_dir, config.get("name")).best()  # the store, not best.json
    if best is None and not args.arch:
        raise InvalidParameterError(f"No trial of the search in {run_dir} completed; see "
                                    f"'archsearch show {run_dir}', then finish the search.")
    keep = ("space", "channels", "cells", "space_args", "dataset", "data_dir", "data_path", "val_fraction",
            "image_size", "seed", "device", "threads", "batch_size", "weight_decay")
    return ({k: config[k] for k in keep if k in config},
            args.arch or (best.arch if best is not None else None))
