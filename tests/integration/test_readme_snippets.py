"""Every ```python block of README.md runs as written, in order, in one namespace.

The blocks run in a fresh folder, as a reader would run them after the command-line lines
they follow: the folder holds ``runs/digits/export/model.pt``, the checkpoint that
``archsearch export runs/digits`` leaves there (here an untrained network, which is all the
snippet needs). A block that needs an optional dependency is skipped, naming it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import archsearch
from archsearch.data import load_task

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
# A block that mentions the key needs the module (the extra that installs it).
OPTIONAL = {"optuna-": ("optuna", "optuna")}


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reader's folder and the names their earlier blocks defined."""
    folder = tmp_path_factory.mktemp("readme")
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    arch = space.sample(np.random.default_rng(0))
    task = load_task("digits", seed=0)
    export = folder / "runs" / "digits" / "export"
    export.mkdir(parents=True)
    archsearch.save_checkpoint(export / "model.pt", space.build(arch, task.input_shape,
                                                                 task.n_classes), space, arch, task)
    return {"folder": folder, "names": {"__name__": "__readme__"}}


def test_the_readme_shows_search_and_load_model() -> None:
    assert len(BLOCKS) >= 3
    assert any("Experiment.create" in b for b in BLOCKS)
    assert any("load_model(" in b for b in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(reader: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str], index: int) -> None:
    block = BLOCKS[index]
    for key, (module, extra) in OPTIONAL.items():
        if key in block and importlib.util.find_spec(module) is None:
            pytest.skip(f"README block {index + 1} needs {module}: "
                        f"pip install 'archsearch[{extra}]'")
    monkeypatch.chdir(reader["folder"])
    torch.set_num_threads(1)
    exec(compile(block, f"README.md python block {index + 1}", "exec"), reader["names"])
    assert capsys.readouterr().out or "print(" not in block
