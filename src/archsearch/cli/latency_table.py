"""``archsearch latency-table``: measure a table of per-operation latencies for ``--latency-table``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from archsearch.cli import _common
from archsearch.errors import InvalidParameterError


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "latency-table", help="measure a latency table for search --latency-table",
        description="Time each distinct operation of some random architectures of a space on "
        "this device, calibrate the sum against whole networks, and write the table as JSON "
        "for 'archsearch search --latency-table FILE'. Build it for the input shape and "
        "number of classes the search will use (--dataset takes both from the data).")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the table (.json)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--input", help="input shape CxHxW (default: 3x32x32, or the --dataset's)")
    p.add_argument("--classes", type=int, help="number of classes (default: 10, or the --dataset's)")
    p.add_argument("--dataset", help="take the input shape and classes from this dataset "
                   "(as search --dataset)")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--image-size", type=int, help="resize images to this side, as search does")
    p.add_argument("--archs", type=int, default=20,
                   help="random architectures whose operations are timed (default: 20)")
    p.add_argument("--calibrate", type=int, default=10,
                   help="of those, how many calibrate against whole networks (>= 3, default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the architectures (default: 0)")
    p.add_argument("--batch", type=int, default=1, help="batch size timed (default: 1)")
    p.add_argument("--device", default="cpu", help="device timed: cpu, cuda, ... (default: cpu)")
    p.add_argument("--warmup", type=int, default=3, help="calls before timing each (default: 3)")
    p.add_argument("--repeats", type=int, default=15, help="timed calls per entry (default: 15)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    _common.add_space_args(p)
    p.set_defaults(handler=run)


def _check(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidParameterError(f"{name} must be an int in [{low}, {high}]. Got {value}.")


def run(args: argparse.Namespace) -> int:
    from archsearch.evaluators.latency_table import build_latency_table

    out = Path(args.out)
    if out.exists() and not args.force:
        raise InvalidParameterError(f"{str(out)!r} exists; pass --force to replace it or choose "
                                    "another --out.")
    if out.exists() and not out.is_file():
        raise InvalidParameterError(f"--out {str(out)!r} is not a file.")
    if not out.parent.is_dir():
        raise InvalidParameterError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist.")
    if not os.access(out.parent, os.W_OK):  # known now, not after minutes of timing
        raise InvalidParameterError(f"--out {str(out)!r}: folder {str(out.parent)!r} is not "
                                    "writable; choose another --out.")
    _check("--calibrate", args.calibrate, 3, 10_000)
    _check("--archs", args.archs, args.calibrate, 10_000)
    _check("--batch", args.batch, 1, 65_536)
    _check("--warmup", args.warmup, 0, 10_000)
    _check("--repeats", args.repeats, 1, 10_000)
    if args.threads is not None:
        _check("--threads", args.threads, 1, 1024)
        torch.set_num_threads(args.threads)
    cfg = _common.resolve(args)
    space = _common.build_space(cfg)
    shape, classes = _shape_and_classes(args)
    device = args.device
    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise InvalidParameterError(f"--device must be cpu, cuda, cuda:N, ... Got {device!r}.") from None
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(f"--device {device}: no CUDA device is available here.")
    start = time.perf_counter()
    table = build_latency_table(space, shape, classes, n_archs=args.archs,
                                n_calibrate=args.calibrate, seed=args.seed, batch_size=args.batch,
                                device=device, n_warmup=args.warmup, n_repeat=args.repeats)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        table.save(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    cal = table.calibration
    print(f"{len(table)} operations of {args.archs} {space.name} architectures timed on "
          f"{table.device_name} at batch {table.batch_size}, input {'x'.join(map(str, shape))}, "
          f"{classes} classes, in {time.perf_counter() - start:.1f} s; calibration {cal.form} "
          f"(a={cal.a:.4g}, b={cal.b:.4g}, c={cal.c:.4g}) on {cal.n_models} networks.",
          file=sys.stderr)
    print(out)
    return 0


def _shape_and_classes(args: argparse.Namespace) -> tuple[tuple[int, ...], int]:
    if args.dataset is None:
        if args.image_size is not None or args.data_dir is not None:
            raise InvalidParameterError("--image-size and --data-dir go with --dataset.")
        classes = 10 if args.classes is None else args.classes
        _check("--classes", classes, 1, 1_000_000)
        return _common.parse_shape(args.input or "3x32x32"), classes
    if args.input is not None or args.classes is not None:
        raise InvalidParameterError("Give --dataset or --input/--classes, not both: the dataset "
                                    "sets the input shape and the classes.")
    from archsearch.data import load_task

    task = load_task(args.dataset, data_dir=args.data_dir, image_size=args.image_size)
    return tuple(task.input_shape), int(task.n_classes)
