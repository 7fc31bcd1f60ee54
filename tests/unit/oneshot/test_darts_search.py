"""The DARTS search: recorded per epoch, resumed exactly, failures recorded."""

import math

import pytest

import archsearch
from archsearch.data import load_task
from archsearch.errors import FingerprintMismatchError, InvalidParameterError
from archsearch.oneshot import DartsConfig, DartsSearch
from archsearch.types import TrialState


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs, nothing catches it."""


@pytest.fixture(scope="module")
def task():
    return load_task("digits", n_train=48, val_fraction=0.1, seed=0)


def space():
    return archsearch.create_space("nb201", channels=2, cells_per_stage=1)


CONFIG = DartsConfig(order=2, epochs=2, batch_size=16, perturb="random", hessian_iters=2)


def run(task, store, config=CONFIG, **kwargs):
    search = DartsSearch.create("s", space(), task, config, store=store, **kwargs)
    search.run()
    return search


def comparable(search):
    return [({k: v for k, v in t.values.items() if k != "epoch_seconds"}, t.arch,
             search.alphas(t)) for t in search.epochs()]


def test_each_epoch_is_a_trial_with_its_metrics_and_alphas(task):
    search = run(task, ":memory:")
    epochs = search.epochs()
    assert [t.values["epoch"] for t in epochs] == [1.0, 2.0]  # counted from 1, as shown
    for trial in epochs:
        v = trial.values
        assert 0 <= v["train_accuracy"] <= 1 and 0 <= v["val_accuracy"] <= 1
        assert math.isfinite(v["hessian_ev"]) and 0 <= v["skip_share"] <= 1
        assert v["epsilon"] > 0
        assert search.space.derive_alphas(search.alphas(trial)) == search.space.parse(trial.arch)
    assert epochs[1].values["lr"] < epochs[0].values["lr"]
    assert search.result() == search.space.parse(epochs[-1].arch)


def test_resume_after_a_kill_continues_exactly(task, tmp_path):
    whole = comparable(run(task, str(tmp_path / "a.db")))

    path = str(tmp_path / "b.db")
    killed = DartsSearch.create("s", space(), task, CONFIG, store=path)

    def kill(epoch, step):
        if (epoch, step) == (1, 1):
            raise Killed

    with pytest.raises(Killed):
        killed.run(on_step=kill)
    assert [t.values["epoch"] for t in killed.epochs()] == [1.0]
    with pytest.raises(FingerprintMismatchError, match="strategy.order"):
        DartsSearch.create("s", space(), task, DartsConfig(**{**CONFIG.to_dict(), "order": 1}),
                           store=path, if_exists="resume")
    resumed = DartsSearch.create("s", space(), task, CONFIG, store=path, if_exists="resume")
    assert resumed.next_epoch == 1
    resumed.run()
    assert comparable(resumed) == whole
    assert all(t.state is TrialState.COMPLETE for t in resumed.store.trials(resumed.experiment_id))


def test_a_run_whose_rows_count_epochs_from_0_resumes_and_shows_them_from_1(task, tmp_path):
    """Rows written before epochs were counted from 1 hold 0, 1, ...: read as such."""
    import sqlite3

    from archsearch.cli._oneshot import epoch_line
    from archsearch.oneshot import epoch_base, epoch_number

    path = tmp_path / "old.db"
    killed = DartsSearch.create("s", space(), task, CONFIG, store=str(path))

    def kill(epoch, step):
        if (epoch, step) == (1, 1):
            raise Killed

    with pytest.raises(Killed):
        killed.run(on_step=kill)
    killed.store.close()
    with sqlite3.connect(path) as db:  # as the first epoch was stored before
        db.execute("UPDATE trials SET metrics = json_set(metrics, '$.epoch', 0.0)")
    resumed = DartsSearch.create("s", space(), task, CONFIG, store=str(path), if_exists="resume")
    resumed.run()
    epochs = resumed.epochs()
    assert [t.values["epoch"] for t in epochs] == [0.0, 1.0]  # the run keeps its own count
    assert epoch_base(epochs) == 0
    assert [epoch_number(t, 0) for t in epochs] == [1, 2]
    assert epoch_line(epochs[0], base=0).startswith("epoch   1 ")
    assert epoch_base(run(task, ":memory:").epochs()) == 1


def test_a_diverging_search_records_a_failed_epoch_and_stops(task):
    x = task.x_train.clone()
    x[0] = math.nan
    bad = type(task)(**{**task.__dict__, "x_train": x})
    search = run(bad, ":memory:", DartsConfig(epochs=3, batch_size=16, hessian_every=0))
    trials = search.store.trials(search.experiment_id)
    assert [t.state for t in trials] == [TrialState.FAILED]
    assert "non-finite in epoch 1" in trials[0].error
    with pytest.raises(InvalidParameterError, match="no finished epoch"):
        search.result()


@pytest.mark.parametrize("config, match", [
    (DartsConfig(order=3), "order must be 1 or 2"),
    (DartsConfig(perturb="adversarial"), "perturb"),
    (DartsConfig(channels=8), "takes its size from the space"),
    (DartsConfig(arch_beta2=1.0), "below 1"),
])
def test_bad_settings_fail_before_anything_is_stored(task, config, match, tmp_path):
    with pytest.raises(InvalidParameterError, match=match):
        DartsSearch.create("s", space(), task, config, store=str(tmp_path / "x.db"))
    assert not (tmp_path / "x.db").exists()


def test_the_darts_space_searches_a_small_supernet(task):
    darts = archsearch.create_space("darts", n_nodes=2, ops=["skip_connect", "sep_conv_3x3"])
    search = DartsSearch.create("d", darts, task, DartsConfig(epochs=1, batch_size=24, channels=2,
                                                              layers=2, hessian_every=0),
                                store=":memory:")
    search.run()
    (trial,) = search.epochs()
    genotype = darts.to_genotype(search.result())
    assert len(genotype.normal) == 4 and set(search.alphas(trial)) == {"alphas_normal",
                                                                        "alphas_reduce"}
    assert trial.values["skip_share"] == [op for op, _ in genotype.normal].count(
        "skip_connect") / 4
