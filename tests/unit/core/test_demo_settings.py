"""The demo's hard compute constraint binds: about half the cells of its space exceed it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import torch

from archsearch.cli import _common
from archsearch.cli.main import build_parser
from archsearch.evaluators import count_flops

MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"


def demo_search_args() -> list[str]:
    text = MAKEFILE.read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^DEMO_SEARCH = (.*)$", text, flags=re.M)
    return shlex.split(line)


def test_the_demo_flops_target_excludes_about_half_the_random_cells() -> None:
    torch.set_num_threads(1)
    args = build_parser().parse_args(["search", *demo_search_args()])
    assert args.mnas_latency == "flops" and args.mnas_constraint == "hard"
    cfg = _common.resolve(args)
    space = _common.build_space(cfg)
    shape = (1, cfg["image_size"], cfg["image_size"])  # Fashion-MNIST: one channel, 10 classes
    rng = np.random.default_rng(0)
    flops = np.array([count_flops(space.build(space.sample(rng), shape, 10), shape)
                      for _ in range(100)])
    above = float(np.mean(flops > args.mnas_target))
    assert 0.3 <= above <= 0.7, f"{above:.1%} of random cells exceed {args.mnas_target:g} FLOPs"
