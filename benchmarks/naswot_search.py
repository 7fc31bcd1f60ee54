"""Search without training on the Fashion-MNIST NB201 table: NASWOT picks the best of N.

For each N and seed: N distinct random architectures, each scored by NASWOT on its
untrained network (one minibatch of the table's data), the best-scoring one picked; its
accuracy is looked up in the table. Prints mean ± std over seeds of the pick's accuracy,
against random picks of the same N (the baseline, same run), the table's mean and optimum,
and the seconds NASWOT took per search. An architecture's score depends only on the
architecture (its network and minibatch are seeded by its key), so scores are computed
once and shared by the seeds.

    python benchmarks/naswot_search.py [--sizes 10,100,1000] [--seeds 20] [--threads 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from archsearch.benchmarks.table import read_table, space_of
from archsearch.data import load_task
from archsearch.evaluators.proxies import ZeroCostProxies

TABLE = Path(__file__).resolve().parents[1] / "tables" / "nb201-fashion-mnist.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(TABLE))
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--column", default="val_acc_3ep")
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = read_table(args.table)
    space = space_of(table)
    table.index(space)
    accuracy = np.asarray(table.columns[args.column], dtype=float)
    task = load_task(args.dataset, image_size=table.meta.get("recipe", {}).get("image_size"))
    proxy = ZeroCostProxies(task, ("naswot",), batch_size=args.batch_size, device="cpu")
    proxy.setup(space)
    scores: dict[str, tuple[float, float]] = {}  # key -> (score, seconds)

    def score(arch):  # type: ignore[no-untyped-def]
        if arch.key not in scores:
            got, took = proxy.scores(arch, int(arch.key[:8], 16))
            scores[arch.key] = (got["naswot"], took["naswot"])
        return scores[arch.key]

    print(f"{args.table}: {len(table)} architectures, {args.column} mean {accuracy.mean():.2f}, "
          f"optimum {accuracy.max():.2f}; batch {args.batch_size}, {args.threads} thread(s)")
    for n in (int(s) for s in args.sizes.split(",")):
        picked, randoms, seconds = [], [], []
        for seed in range(args.seeds):
            rng = np.random.default_rng([seed, n])
            archs: dict[str, object] = {}
            while len(archs) < n:
                arch = space.sample(rng)
                archs.setdefault(arch.key, arch)
            chosen = list(archs.values())
            results = [score(a) for a in chosen]
            best = chosen[int(np.argmax([s for s, _ in results]))]
            picked.append(table.lookup(best)[args.column])  # type: ignore[arg-type]
            randoms.append(table.lookup(chosen[0])[args.column])  # type: ignore[arg-type]
            seconds.append(sum(t for _, t in results))
        print(f"  N={n:<5} NASWOT pick {np.mean(picked):6.2f} ± {np.std(picked):.2f}   "
              f"random pick {np.mean(randoms):6.2f} ± {np.std(randoms):.2f}   "
              f"{np.mean(seconds):7.1f} s per search ({args.seeds} seeds)", flush=True)


if __name__ == "__main__":
    main()
