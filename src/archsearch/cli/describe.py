"""``archsearch describe``: what one architecture is and what it costs."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from archsearch.cli import _common
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.cost import Cost


def add_parser(commands: Any) -> None:
    p = commands.add_parser("describe", help="parameters, FLOPs and latency of an architecture",
                            description="Describe one architecture: its canonical string, key, "
                            "parameters, FLOPs and latency measured on this machine.")
    p.add_argument("--arch", required=True, help="the architecture string")
    p.add_argument("--input", default="3x32x32", help="input shape CxHxW (default: 3x32x32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default="cpu", help="device for the latency (default: cpu)")
    p.add_argument("--batch", type=int, default=None,
                   help="a second batch size for the latency (default: 32; 0: batch 1 only)")
    p.add_argument("--latency", metavar="none|B1,B2,...",
                   help="batch sizes to measure latency at, or 'none' to skip the measurement "
                   "(default: 1,32, or 1 and --batch)")
    p.add_argument("--latency-repeats", type=int, default=30, metavar="N",
                   help="timed calls at batch 1, a third as many (at least 3) at larger batches "
                   "(default: 30)")
    p.add_argument("--latency-seconds", type=float, default=2.0, metavar="S",
                   help="stop timing each batch size after about S seconds, however few calls "
                   "ran (default: 2)")
    p.add_argument("--draw", metavar="FILE", help="draw the cells to FILE (.png or .svg)")
    _common.add_space_args(p)
    p.set_defaults(handler=run)


def latency_batches(latency: str | None, batch: int | None) -> tuple[int, ...]:
    """The batch sizes ``--latency`` (or the older ``--batch``) asks for; () for none."""
    if batch is not None and latency is not None:
        raise InvalidParameterError(
            f"Give --latency or --batch, not both (e.g. --latency 1,{batch}).")
    if latency is None:
        batch = 32 if batch is None else batch
        if not 0 <= batch <= 4096:
            raise InvalidParameterError(f"--batch must be an int in [0, 4096]. Got {batch}.")
        return (1,) if batch in (0, 1) else (1, batch)
    if latency.strip().lower() == "none":
        return ()
    parts = [p.strip() for p in latency.split(",")]
    if not all(p.isascii() and p.isdigit() and len(p) <= 5 and 1 <= int(p) <= 65_536
               for p in parts):
        raise InvalidParameterError(
            "--latency must be 'none' or comma-separated batch sizes in [1, 65536] "
            f"(e.g. 1,32). Got {latency!r}.")
    sizes = tuple(int(p) for p in parts)
    if len(set(sizes)) != len(sizes):
        raise InvalidParameterError(f"--latency names a batch size twice. Got {latency!r}.")
    return sizes


def run(args: argparse.Namespace) -> int:
    cfg = _common.resolve(args)
    _common.check_flags(cfg, args)
    space = _common.build_space(cfg)
    arch = space.parse(args.arch)
    shape = _common.parse_shape(args.input)
    if not 1 <= args.classes <= 10**6:
        raise InvalidParameterError(f"--classes must be an int in [1, 1000000]. Got {args.classes}.")
    batches = latency_batches(args.latency, args.batch)
    if args.latency_repeats < 1:
        raise InvalidParameterError(
            f"--latency-repeats must be an int >= 1. Got {args.latency_repeats}.")
    if not math.isfinite(args.latency_seconds) or args.latency_seconds <= 0:
        raise InvalidParameterError(
            f"--latency-seconds must be a number > 0 (e.g. 2). Got {args.latency_seconds}.")
    cost = Cost(shape, args.classes, batches, device=args.device, n_repeat=args.latency_repeats,
                max_seconds=args.latency_seconds)
    cost.setup(space)
    info: dict[str, Any] = {"space": space.name, "space_config": space.config(),
                            "arch": str(arch), "key": arch.key, "input": list(shape),
                            "classes": args.classes}
    info.update({k: round(v, 4) if "latency" in k else int(v)
                 for k, v in cost.evaluate(arch, None).items()})
    info["device"] = args.device
    if args.draw:
        from archsearch.reports import draw_architecture

        draw_architecture(space, arch, args.draw)
        info["drawing"] = args.draw
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for name, value in info.items():
        print(f"{name:<13} {value}")
    return 0
