"""How well a per-operation latency table predicts whole-network latency, on this machine.

For nb201 (channels 16, one cell per stage) and every other registered space (at its
TEST_CONFIG), at 3x32x32 and batch 1: the seconds to build a table from 20 random
architectures (10 of them calibrate it), the milliseconds of one prediction against one
measurement, and the median and max % error of the predictions on 50 other random
architectures. Two baselines are measured in the same run: the raw sum of the table's
entries (no calibration), and a second measurement of the same 50 networks (the noise
floor of the reference itself).

    python benchmarks/latency_table.py [--threads 1] [--n-archs 50] [--space nb201]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import archsearch
from archsearch.evaluators.cost import measure_latency_ms
from archsearch.evaluators.latency_table import (
    Calibration,
    PredictionError,
    build_latency_table,
    measure_networks_ms,
    prediction_error,
)
from archsearch.spaces import SearchSpace

SHAPE = (3, 32, 32)
CONFIGS = {"nb201": {"channels": 16, "cells_per_stage": 1}}


def create(name: str) -> SearchSpace:
    space = archsearch.create_space(name)
    return archsearch.create_space(name, **CONFIGS.get(name, type(space).TEST_CONFIG))


def pct(err: PredictionError) -> str:
    return f"median {err.median_pct:5.1f} %, max {err.max_pct:6.1f} %"


def run_space(name: str, n_archs: int, seed: int) -> None:
    space = create(name)
    start = time.perf_counter()
    table = build_latency_table(space, SHAPE, 10, seed=seed)
    built = time.perf_counter() - start
    cal = table.calibration
    print(f"{name} {space.config()}: build {built:.1f} s, {len(table)} entries, "
          f"calibration {cal.form}: a={cal.a:.3f} b={cal.b * 1e3:.1f} us/leaf c={cal.c:.3f} ms")
    rng = np.random.default_rng(seed + 1)
    archs = [space.sample(rng) for _ in range(n_archs)]
    err = prediction_error(table, space, archs)
    fitted, table.calibration = table.calibration, Calibration()
    raw = PredictionError(tuple(table.predict(space.build(a, SHAPE, 10)) for a in archs),
                          err.measured_ms)
    table.calibration = fitted
    again = measure_networks_ms([space.build(a, SHAPE, 10) for a in archs], SHAPE)
    floor = PredictionError(tuple(again), err.measured_ms)
    print(f"  {n_archs} archs, measured {statistics.median(err.measured_ms):.2f} ms median")
    print(f"  predicted (calibrated)  {pct(err)}")
    print(f"  sum of entries only     {pct(raw)}")
    print(f"  second measurement      {pct(floor)}   (noise floor)")
    model = space.build(archs[0], SHAPE, 10)
    start = time.perf_counter()
    for _ in range(20):
        table.predict(model)
    per_predict = (time.perf_counter() - start) / 20 * 1e3
    start = time.perf_counter()
    measure_latency_ms(model, SHAPE)
    per_measure = (time.perf_counter() - start) * 1e3
    print(f"  one prediction {per_predict:.1f} ms (known ops), one measurement {per_measure:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--n-archs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", action="append", help="only these spaces (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), input {SHAPE}, batch 1")
    for name in args.space or archsearch.list_spaces():
        run_space(name, args.n_archs, args.seed)


if __name__ == "__main__":
    main()
