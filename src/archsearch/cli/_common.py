"""Argument groups and builders shared by the subcommands.

Every option defaults to None on the parser so a subcommand can tell what the user
typed from what it fills in; the real defaults live in ``DEFAULTS``.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from archsearch.data import Augment, Task, load_task
from archsearch.data._base import _stratified_mask, _subsample_counts
from archsearch.errors import ExperimentExistsError, InvalidParameterError
from archsearch.spaces import SPACES, SearchSpace, create_space
from archsearch.storage import SQLiteStore
from archsearch.training import TrainConfig

DEFAULTS: dict[str, Any] = {
    "space": "nb201", "channels": None, "cells": None, "space_args": None,
    "dataset": "digits", "data_dir": None, "data_path": None, "val_fraction": 0.2,
    "n_train": None, "image_size": None, "seed": 0,
    "epochs": 5, "batch_size": 64, "lr": 0.05, "weight_decay": 5e-4,
    "crop_padding": 0, "cutout": 0, "hflip": False,
    "device": "auto", "threads": None,
}


def add_space_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search space")
    group.add_argument("--space", help="search space name (default: nb201)")
    group.add_argument("--channels", type=int,
                       help="channels of the first stage (nb201, darts; refused by the others)")
    group.add_argument("--cells", type=int, help="cells per stage (nb201; the darts space counts "
                       "all its cells, reductions too: --space-arg layers=N)")
    group.add_argument("--space-arg", dest="space_args", action="append", metavar="KEY=VALUE",
                       help="any setting of the space (repeatable), e.g. --space-arg depth=8")


def add_data_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", help="digits, fashion-mnist, mnist, cifar10, npz, "
                       "image-folder (default: digits)")
    group.add_argument("--data-dir", help="folder holding the dataset files "
                       "(default: $ARCHSEARCH_DATA_DIR or the dataset's usual place)")
    group.add_argument("--data-path", help="the file or folder of an npz or image-folder dataset")
    group.add_argument("--val-fraction", type=float, help="share of training data held out "
                       "for validation (default: 0.2)")
    group.add_argument("--n-train", type=int, metavar="N",
                       help="train on a stratified subset of N images, the same N in every "
                       "command: search draws them from the training share, after the "
                       "validation split (which stays whole); train from training and "
                       "validation data together (default: all)")
    group.add_argument("--image-size", type=int, help="resize images to this side (default: "
                       "the dataset's own)")
    group.add_argument("--seed", type=int, help="seed of the split and of every trial (default: 0)")


def add_train_args(parser: argparse.ArgumentParser, epochs_default: int) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, help=f"epochs of training (default: {epochs_default})")
    group.add_argument("--batch-size", type=int, help="batch size (default: 64)")
    group.add_argument("--lr", type=float, help="initial learning rate, cosine-annealed (default: 0.05)")
    group.add_argument("--weight-decay", type=float, help="weight decay (default: 5e-4)")
    group.add_argument("--crop-padding", type=int, help="random crop with this padding (0: off)")
    group.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None,
                       help="random horizontal flips (only where the dataset suits them)")
    group.add_argument("--cutout", type=int, help="cutout square size (0: off)")
    group.add_argument("--device", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    group.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")


def add_recipe_args(parser: argparse.ArgumentParser) -> None:
    """The final-training recipe: all off unless asked for."""
    group = parser.add_argument_group("final-training recipe")
    group.add_argument("--label-smoothing", type=float,
                       help="cross-entropy label smoothing, e.g. 0.1 (default: 0)")
    group.add_argument("--drop-path", type=float, help="drop-path probability of cell "
                       "networks, rising linearly to this over the epochs, e.g. 0.2 (default: 0)")
    group.add_argument("--aux-weight", type=float, help="weight of an auxiliary head's loss, "
                       "e.g. 0.4; the darts space gets its auxiliary head (default: 0)")
    group.add_argument("--ema", type=float, metavar="DECAY", help="keep an exponential moving "
                       "average of the weights with this decay, e.g. 0.999, and end with it "
                       "(default: off)")


def resolve(args: argparse.Namespace, stored: dict[str, Any] | None = None,
            defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings: what the user typed, else what was stored, else the defaults."""
    merged = dict(DEFAULTS, **(defaults or {}))
    merged.update(stored or {})
    merged.update({k: v for k, v in vars(args).items() if v is not None and k in merged})
    return merged


# (flag, kind, low, high, low_open, high_open): kind "int", "real" (finite) or "number".
_RANGES: dict[str, tuple[str, str, float, float | None, bool, bool]] = {
    "channels": ("--channels", "int", 1, 4096, False, False),  # more: a layer passes 600 MB
    "cells": ("--cells", "int", 1, 1000, False, False),  # more only builds for hours
    "val_fraction": ("--val-fraction", "real", 0, 1, True, True),
    "n_train": ("--n-train", "int", 1, None, False, False),
    "image_size": ("--image-size", "int", 1, 1024, False, False),
    "seed": ("--seed", "int", 0, 2**32 - 1, False, False),
    "epochs": ("--epochs", "int", 1, None, False, False),
    "batch_size": ("--batch-size", "int", 1, None, False, False),
    "lr": ("--lr", "real", 0, None, True, False),
    "weight_decay": ("--weight-decay", "real", 0, None, False, False),
    "crop_padding": ("--crop-padding", "int", 0, None, False, False),
    "cutout": ("--cutout", "int", 0, None, False, False),
    "threads": ("--threads", "int", 1, None, False, False),
    "label_smoothing": ("--label-smoothing", "real", 0, 1, False, True),
    "drop_path": ("--drop-path", "real", 0, 1, False, True),
    "aux_weight": ("--aux-weight", "real", 0, None, False, False),
    "ema": ("--ema", "real", 0, 1, False, True),
    "budget": ("--budget", "int", 1, None, False, False),
    "timeout": ("--timeout", "number", 0, None, True, False),
    "population_size": ("--population-size", "int", 1, None, False, False),
    "sample_size": ("--sample-size", "int", 1, None, False, False),
    "mnas_target": ("--mnas-target", "real", 0, None, True, False),
    "final_epochs": ("--final-epochs", "int", 1, None, False, False),
    "budget_epochs": ("--budget-epochs", "int", 1, None, False, False),
    "budget_seconds": ("--budget-seconds", "number", 0, None, True, False),
    "trial_timeout": ("--trial-timeout", "real", 0, 10**8, True, False),  # setitimer's range
    "workers": ("--workers", "int", 1, None, False, False),
    "max_retries": ("--max-retries", "int", 0, None, False, False),
}


def check_flags(cfg: dict[str, Any], args: argparse.Namespace | None = None) -> None:
    """Refuse an out-of-range number, or a space setting the space does not take, before
    any data is loaded or anything written. ``args``: what the user typed."""
    for key, (flag, kind, low, high, low_open, high_open) in _RANGES.items():
        value = cfg.get(key)
        if value is None:
            continue
        if kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
                not math.isnan(value) and (kind == "number" or math.isfinite(value))
        ok = ok and (value > low if low_open else value >= low) and (
            high is None or (value < high if high_open else value <= high))
        if not ok:
            what = "an int" if kind == "int" else "a finite number" if kind == "real" else "a number"
            if high is None:
                rule = f"> {low}" if low_open else f">= {low}"
            else:
                rule = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
            raise InvalidParameterError(f"{flag} must be {what} {rule}. Got {value!r}.")
    if args is not None:
        _check_space_flags(cfg, args)
        if getattr(args, "data_path", None) is not None and \
                cfg.get("dataset") in ("digits", "fashion-mnist", "mnist", "cifar10"):
            raise InvalidParameterError(
                f"--data-path goes with --dataset npz or image-folder; {cfg['dataset']} "
                f"reads its own files (point at them with --data-dir). Got --data-path "
                f"{args.data_path!r}."[:300])


def _check_space_flags(cfg: dict[str, Any], args: argparse.Namespace) -> None:
    """--channels and --cells typed for a space that has no such setting."""
    accepted = inspect.signature(SPACES.get(cfg["space"])).parameters
    for key, name in (("channels", "channels"), ("cells", "cells_per_stage")):
        if getattr(args, key, None) is None or name in accepted:
            continue
        if cfg["space"] == "darts" and key == "cells":  # it counts every cell, reductions too
            raise InvalidParameterError(
                "--cells does not apply to the darts space, which counts all its cells, the 2 "
                "reduction cells included: give --space-arg layers=N instead (N = 3 x cells "
                f"per stage + 2, e.g. layers=8 for 2). Got --cells {args.cells}.")
        settings = ", ".join(accepted)
        raise InvalidParameterError(
            f"--{key} does not apply to the {cfg['space']} space; its settings are {settings} "
            f"(--space-arg KEY=VALUE). Got --{key} {getattr(args, key)}.")


def build_space(cfg: dict[str, Any]) -> SearchSpace:
    """The space named in the settings, with the settings it accepts."""
    factory = SPACES.get(cfg["space"])
    accepted = inspect.signature(factory).parameters
    kwargs = {name: cfg[key] for key, name in (("channels", "channels"),
                                                ("cells", "cells_per_stage"))
              if cfg.get(key) is not None and name in accepted}
    kwargs.update(space_args(cfg.get("space_args")))
    return create_space(cfg["space"], **kwargs)


def space_args(pairs: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    """``["depth=8", "skips=false"]`` -> ``{"depth": 8, "skips": False}`` (JSON values, else text)."""
    if isinstance(pairs, dict):
        return pairs
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if not isinstance(pair, str):
            raise InvalidParameterError(f"--space-arg must look like KEY=VALUE. Got {pair!r}.")
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterError(f"--space-arg must look like KEY=VALUE. Got {pair!r}.")
        try:
            out[key.strip()] = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deep: the text itself
            out[key.strip()] = value
    return out


_MINIMIZED = ("latency", "params", "flops", "loss", "seconds", "time", "error", "energy", "memory")


def parse_metrics(text: str, flag: str, known: dict[str, str] | None = None
                  ) -> list[tuple[str, Literal["maximize", "minimize"]]]:
    """``"val_accuracy,latency_ms:min"`` -> ``[("val_accuracy", "maximize"), ...]``.

    A metric without ``:max`` or ``:min`` takes its direction from ``known`` if named
    there, else ``minimize`` when its name says latency, params, flops, loss, time, error,
    energy or memory, and ``maximize`` otherwise.
    """
    out: list[tuple[str, Literal["maximize", "minimize"]]] = []
    for part in (p.strip() for p in text.split(",")):
        metric, _, way = part.partition(":")
        if not metric:
            raise InvalidParameterError(f"{flag} takes metric names, M1,M2,... Got {text!r}.")
        direction: Literal["maximize", "minimize"]
        if way:
            if way not in ("max", "min"):
                raise InvalidParameterError(f"{flag}: directions are :max or :min. Got {part!r}.")
            direction = "maximize" if way == "max" else "minimize"
        elif known and metric in known:
            direction = "minimize" if known[metric] == "minimize" else "maximize"
        else:
            minimized = any(word in metric.lower() for word in _MINIMIZED)
            direction = "minimize" if minimized else "maximize"
        out.append((metric, direction))
    if len({m for m, _ in out}) != len(out):
        raise InvalidParameterError(f"{flag} names a metric twice: {text!r}.")
    return out


# What the train evaluator reports for each trial (latency_ms measured when a metric names it).
TRAIN_METRICS = ("val_accuracy", "val_loss", "train_loss", "train_seconds", "params", "flops",
                 "latency_ms")


def check_metric_names(cfg: dict[str, Any]) -> None:
    """--objective and --mnas-latency name metrics the evaluator reports (a table checks its
    own columns), and proxy:P1,P2 names known proxies: refused before data is loaded."""
    from archsearch.evaluators.proxies import PROXIES

    evaluator = str(cfg.get("evaluator") or "train")
    if evaluator == "train":
        known = [*TRAIN_METRICS, *(["latency_ms_predicted"] if cfg.get("latency_table") else [])]
    elif evaluator == "proxy" or evaluator.startswith("proxy:"):
        proxies = [p.strip() for p in evaluator.partition(":")[2].split(",") if p.strip()]
        for proxy in proxies:
            if proxy not in PROXIES:
                close = difflib.get_close_matches(proxy, PROXIES, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise InvalidParameterError(f"Unknown proxy {proxy!r} in --evaluator "
                                            f"{evaluator}.{hint} Choose from {', '.join(PROXIES)}.")
        known = [*(proxies or ["naswot"]), "proxy_seconds"]
    else:
        return  # a table names its columns; anything else is refused with the evaluator
    names = [m for m, _ in parse_metrics(cfg["objective"], "--objective")] \
        if cfg.get("objective") else []
    flags = [("--objective", n) for n in names]
    if cfg.get("mnas_target") is not None and cfg.get("mnas_latency"):
        flags.append(("--mnas-latency", str(cfg["mnas_latency"])))
    for flag, name in flags:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidParameterError(
                f"Unknown {flag} metric {name!r}: the {evaluator.partition(':')[0]} evaluator "
                f"reports {', '.join(known)}.{hint}")


def build_task(cfg: dict[str, Any]) -> Task:
    return load_task(cfg["dataset"], data_dir=cfg["data_dir"], path=cfg["data_path"],
                     val_fraction=cfg["val_fraction"], seed=cfg["seed"], n_train=cfg["n_train"],
                     image_size=cfg.get("image_size"))


def subsample(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded, stratified subset of ``n`` examples (all of them when ``n`` is None or more)."""
    if n is None or n >= len(y):
        return x, y
    labels = y.numpy()
    keep = _stratified_mask(labels, _subsample_counts(labels, n), np.random.default_rng(seed))
    index = torch.from_numpy(np.flatnonzero(keep))
    return x[index], y[index]


def build_train(cfg: dict[str, Any]) -> TrainConfig:
    return TrainConfig(n_epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                       weight_decay=cfg["weight_decay"],
                       label_smoothing=cfg.get("label_smoothing") or 0.0,
                       drop_path=cfg.get("drop_path") or 0.0,
                       aux_weight=cfg.get("aux_weight") or 0.0, ema_decay=cfg.get("ema") or 0.0)


def build_augment(cfg: dict[str, Any], task: Task) -> Augment:
    return Augment(crop_padding=cfg["crop_padding"], hflip=bool(cfg["hflip"] and task.hflip),
                   cutout=cfg["cutout"])


def set_threads(cfg: dict[str, Any]) -> None:
    threads = cfg.get("threads")
    if threads is not None:
        if threads < 1:
            raise InvalidParameterError(f"--threads must be an int >= 1. Got {threads} instead.")
        torch.set_num_threads(threads)


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"3x32x32"`` -> (3, 32, 32)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and 0 < int(p) <= 4096 for p in parts):
        raise InvalidParameterError(f"--input must look like CxHxW with integers in [1, 4096] "
                                    f"(e.g. 3x32x32). Got {text!r}."[:300])
    c, h, w = (int(p) for p in parts)
    return c, h, w


_NUMBER, _TEXT, _NONE = (int, float), (str,), (type(None),)
# The JSON types a run directory's config.json may give each setting it holds.
SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "space": _TEXT, "channels": (int, *_NONE), "cells": (int, *_NONE),
    "space_args": (dict, list, *_NONE), "dataset": _TEXT, "data_dir": (*_TEXT, *_NONE),
    "data_path": (*_TEXT, *_NONE), "val_fraction": _NUMBER, "n_train": (int, *_NONE),
    "image_size": (int, *_NONE), "seed": (int,), "epochs": (int,), "batch_size": (int,),
    "lr": _NUMBER, "weight_decay": _NUMBER, "crop_padding": (int, *_NONE), "cutout": (int,),
    "hflip": (bool, *_NONE), "device": _TEXT, "threads": (int, *_NONE), "strategy": _TEXT,
    "population_size": (int,), "sample_size": (int,), "name": _TEXT, "evaluator": _TEXT,
    "objective": (*_TEXT, *_NONE), "minimize": (bool, *_NONE), "mnas_target": (*_NUMBER, *_NONE),
    "mnas_latency": (*_TEXT, *_NONE), "mnas_constraint": _TEXT,
    "mnas_accuracy_scale": (*_NUMBER, *_NONE),
    "latency_table": (*_TEXT, *_NONE), "preset": (*_TEXT, *_NONE), "budget": (int, *_NONE),
    "timeout": (*_NUMBER, *_NONE), "out": (*_TEXT, *_NONE), "backend": _TEXT,
    "workers": (int, *_NONE), "ray_address": (*_TEXT, *_NONE),
    "trial_timeout": (*_NUMBER, *_NONE), "max_retries": (int,), "final_epochs": (int, *_NONE),
    "budget_epochs": (int, *_NONE), "budget_seconds": (*_NUMBER, *_NONE),
    "prune": (*_TEXT, *_NONE), "label_smoothing": _NUMBER, "drop_path": _NUMBER,
    "aux_weight": _NUMBER, "ema": _NUMBER,
}


def check_settings(settings: dict[str, Any], path: Path) -> dict[str, Any]:
    """``settings`` read from ``path``, once each known one has its JSON type."""
    for key, value in settings.items():
        types = SETTING_TYPES.get(key)
        if types is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            allowed = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise InvalidParameterError(f"Run configuration {path}: setting {key!r} must be "
                                        f"{allowed}. Got {value!r}."[:300])
    return settings


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object written by archsearch, with a one-line error if it is unusable."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidParameterError(f"No {what} at {path}.") from None
    except (OSError, ValueError, RecursionError) as err:
        raise InvalidParameterError(f"Cannot read {what} {path}: {err}.") from None
    if not isinstance(data, dict):
        raise InvalidParameterError(f"Cannot read {what} {path}: not a JSON object.")
    return data


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a crash never leaves half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def make_dir(path: Path, option: str) -> None:
    """Create the directory ``path`` (and its parents); a one-line error if it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InvalidParameterError(f"{option} {path}: a file is in the way of this "
                                    "directory.") from None
    except OSError as err:
        raise InvalidParameterError(f"{option} {path}: cannot create it "
                                    f"({err.strerror or err}).") from None


def open_run_store(run_dir: Path, store_name: str, name: str, resume: bool) -> SQLiteStore:
    """The run directory's store: without ``resume`` one that holds no search yet, with it
    the one that holds search ``name``."""
    make_dir(run_dir, "--run-dir")
    store = SQLiteStore(run_dir / store_name)
    held = store.experiment_names()
    if not resume and held:  # one search per run directory: its config.json is that search's
        store.close()
        raise ExperimentExistsError(
            f"{run_dir} already holds search {held[0]!r}. Add --resume to continue it, "
            "or pick another --run-dir.")
    if resume and held and name not in held:
        store.close()
        raise ExperimentExistsError(f"{run_dir} holds search {held[0]!r}, not {name!r}; "
                                    "resume it without --name, or pick another --run-dir.")
    return store
