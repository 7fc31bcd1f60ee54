"""``archsearch describe``: what one architecture is and what it costs."""

from __future__ import annotations

import argparse
import json
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
    p.add_argument("--batch", type=int, default=32,
                   help="a second batch size for the latency (default: 32; 0: batch 1 only)")
    p.add_argument("--draw", metavar="FILE", help="draw the cells to FILE (.png or .svg)")
    _common.add_space_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = _common.resolve(args)
    _common.check_flags(cfg, args)
    space = _common.build_space(cfg)
    arch = space.parse(args.arch)
    shape = _common.parse_shape(args.input)
    if not 1 <= args.classes <= 10**6:
        raise InvalidParameterError(f"--classes must be an int in [1, 1000000]. Got {args.classes}.")
    if not 0 <= args.batch <= 4096:
        raise InvalidParameterError(f"--batch must be an int in [0, 4096]. Got {args.batch}.")
    batches = (1,) if args.batch in (0, 1) else (1, args.batch)
    cost = Cost(shape, args.classes, batches, device=args.device)
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
