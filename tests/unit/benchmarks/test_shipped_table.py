"""The Fashion-MNIST NB201 table in tables/: complete, one row per distinct cell, its recipe."""

from pathlib import Path

import numpy as np

from archsearch.benchmarks.table import read_table, space_of

TABLE = Path(__file__).resolve().parents[3] / "tables" / "nb201-fashion-mnist.csv.gz"


def test_the_shipped_table_holds_every_distinct_cell_once_with_its_recipe():
    table = read_table(TABLE)
    space = space_of(table)
    table.index(space)
    assert table.meta["complete"] and table.meta["failed"] == 0
    assert table.meta["recipe"]["train"]["n_epochs"] == 3 and space.config()["channels"] == 8
    assert len(table) == table.n_distinct == 6466
    accuracy = table.columns["val_acc_3ep"]
    assert np.all((accuracy >= 0) & (accuracy <= 100)) and accuracy.max() > 80
    # the cell without a path from input to output cannot beat chance
    empty = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert table.index(space).lookup(empty)["val_acc_3ep"] <= 11
