"""``archsearch describe``: what one architecture is and what it costs."""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from archsearch.cli import _common
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.cost import count_flops, count_params, measure_latency_ms


def add_parser(commands: Any) -> None:
    p = commands.add_parser("describe", help="parameters, FLOPs and latency of an architecture",
                            description="Describe one architecture: its canonical string, key, "
                            "parameters, FLOPs and latency measured on this machine.")
    p.add_argument("--arch", required=True, help="the architecture string")
    p.add_argument("--input", default="3x32x32", help="input shape CxHxW (default: 3x32x32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--device", default="cpu", help="device for the latency (default: cpu)")
    _common.add_space_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = _common.resolve(args)
    space = _common.build_space(cfg)
    arch = space.parse(args.arch)
    shape = _common.parse_shape(args.input)
    if args.classes < 1:
        raise InvalidParameterError(f"--classes must be >= 1. Got {args.classes}.")
    model = space.build(arch, shape, args.classes).to(torch.device(args.device))
    info = {
        "space": space.name, "space_config": space.config(), "arch": str(arch), "key": arch.key,
        "input": list(shape), "classes": args.classes, "params": count_params(model),
        "flops": count_flops(model, shape),
        "latency_ms": round(measure_latency_ms(model, shape), 4), "latency_batch": 1,
        "device": args.device,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for name, value in info.items():
        print(f"{name:<13} {value}")
    return 0
