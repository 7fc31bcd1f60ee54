import numpy as np
import pytest
import torch

import archsearch
from archsearch import Experiment, InvalidParameterError, Objective
from archsearch.spaces import SPACES
from archsearch.strategies import Reinforce
from archsearch.testing import MatchTarget, check_strategy

torch.set_num_threads(1)

TARGET = ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1",
          "nor_conv_3x3")


def small_space(name):
    factory = SPACES.get(name)
    return archsearch.create_space(name, **getattr(factory, "TEST_CONFIG", {}))


def trial(number, arch, score):
    return archsearch.FrozenTrial(number, 0, number, str(arch), arch.key,
                                  archsearch.TrialState.COMPLETE, {"score": score})


@pytest.mark.parametrize("name", archsearch.list_spaces())
def test_asks_are_valid_in_every_space(name):
    space = small_space(name)
    strategy = archsearch.create_strategy("reinforce", batch_size=2)
    strategy.setup(space, Objective("score"), seed=0)
    rng = np.random.default_rng(0)
    for number in range(20):
        arch = strategy.ask(rng)
        space.validate(arch)
        strategy.tell(trial(number, arch, float(number % 3)))  # updates run too
    assert strategy.n_updates == 10


def test_replay_reproduces_asks():
    check_strategy(archsearch.create_strategy("reinforce"), archsearch.create_space("nb201"))


def test_ask_leaves_global_torch_rng_alone():
    state = torch.random.get_rng_state()
    strategy = archsearch.create_strategy("reinforce")
    strategy.setup(archsearch.create_space("nb201"), Objective("score"), seed=0)
    strategy.ask(np.random.default_rng(0))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_setup_seeds_the_controller():
    def weights(seed):
        strategy = archsearch.create_strategy("reinforce")
        strategy.setup(archsearch.create_space("nb201"), Objective("score"), seed=seed)
        return strategy.controller_state()

    a, b, c = weights(1), weights(1), weights(2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_failed_trials_are_skipped():
    space = archsearch.create_space("nb201")
    strategy = archsearch.create_strategy("reinforce", batch_size=2)
    strategy.setup(space, Objective("score"), seed=0)
    arch = space.sample(np.random.default_rng(0))
    strategy.tell(archsearch.FrozenTrial(0, 0, 0, str(arch), arch.key,
                                         archsearch.TrialState.FAILED, {}))
    strategy.tell(trial(1, arch, float("nan")))
    assert strategy.batch == [] and strategy.n_updates == 0


def test_update_follows_the_reward():
    space = archsearch.create_space("nb201")
    strategy = archsearch.create_strategy("reinforce", batch_size=2, lr=0.05)
    strategy.setup(space, Objective("score"), seed=0)
    good, bad = space.decode([1] * 6), space.decode([2] * 6)

    def log_prob(arch):
        with torch.no_grad():
            return float(strategy.controller.score(torch.tensor(space.encode(arch))[None])[0][0])

    before = log_prob(good) - log_prob(bad)
    for i in range(10):
        strategy.tell(trial(2 * i, bad, 0.0))
        strategy.tell(trial(2 * i + 1, good, 1.0))
    assert log_prob(good) - log_prob(bad) > before + 1.0
    assert 0.0 < strategy.baseline < 1.0


def test_resume_restores_the_controller_exactly(tmp_path):
    store = str(tmp_path / "runs.db")
    space = archsearch.create_space("nb201")

    def create(strategy, **kwargs):
        return Experiment.create("rl", space, strategy, MatchTarget(TARGET), store=store,
                                 seed=7, **kwargs)

    first = create(archsearch.create_strategy("reinforce"))
    first.run(n_trials=30)
    resumed = create(archsearch.create_strategy("reinforce"), if_exists="resume")
    a, b = first.strategy, resumed.strategy
    assert isinstance(a, Reinforce) and isinstance(b, Reinforce)
    assert a.n_updates == b.n_updates == 6
    state_a, state_b = a.controller_state(), b.controller_state()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert a.baseline == b.baseline
    opt_a, opt_b = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    assert all(torch.equal(opt_a[i]["exp_avg_sq"], opt_b[i]["exp_avg_sq"]) for i in opt_a)
    assert a.ask(np.random.default_rng([7, 30])) == b.ask(np.random.default_rng([7, 30]))


def best_scores(strategy, seed, n_trials=250):
    exp = Experiment.create("toy", archsearch.create_space("nb201"),
                            archsearch.create_strategy(strategy), MatchTarget(TARGET),
                            store=":memory:", seed=seed)
    exp.run(n_trials=n_trials)
    return exp.best()[0].values["score"]


def test_reinforce_finds_the_optimum_and_beats_random():
    rl = [best_scores("reinforce", seed) for seed in range(5)]
    rnd = [best_scores("random", seed) for seed in range(5)]
    assert sum(score == len(TARGET) for score in rl) >= 4
    assert np.mean(rl) > np.mean(rnd)


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden_size": 0}, "'hidden_size' parameter of Reinforce must be an int >= 1. Got 0"),
    ({"temperature": 0.0}, "'temperature' parameter of Reinforce must be a number > 0.0"),
    ({"tanh_constant": -1}, "'tanh_constant' parameter of Reinforce must be a number > 0.0"),
    ({"entropy_weight": -0.1}, "'entropy_weight' parameter of Reinforce must be a number >= 0.0"),
    ({"lr": "fast"}, "'lr' parameter of Reinforce must be a number > 0.0. Got 'fast' instead"),
    ({"batch_size": 2.5}, "'batch_size' parameter of Reinforce must be an int >= 1. Got 2.5"),
    ({"baseline_decay": 1.5}, r"'baseline_decay' parameter of Reinforce must be a number in \[0.0"),
    ({"grad_clip": 0}, "'grad_clip' parameter of Reinforce must be a number > 0.0"),
])
def test_bad_parameters(kwargs, match):
    strategy = archsearch.create_strategy("reinforce", **kwargs)
    with pytest.raises(InvalidParameterError, match=match) as info:
        strategy.setup(archsearch.create_space("nb201"), Objective("score"), 0)
    assert "\n" not in str(info.value)


def test_config_lists_every_setting():
    config = archsearch.create_strategy("reinforce", lr=0.01).config()
    assert config == {"name": "reinforce", "hidden_size": 64, "temperature": 5.0,
                      "tanh_constant": 2.5, "entropy_weight": 1e-4, "lr": 0.01,
                      "batch_size": 5, "baseline_decay": 0.95, "grad_clip": 5.0}


def test_numpy_sampling_matches_the_controller_after_updates(monkeypatch):
    from archsearch.strategies import reinforce as module
    space = archsearch.create_space("nb201")
    strategy = archsearch.create_strategy("reinforce", batch_size=2, lr=0.1)
    strategy.setup(space, Objective("score"), seed=0)
    rng = np.random.default_rng(0)
    for number in range(6):  # three updates, so a stale copy of the weights would show
        arch = strategy.ask(rng)
        strategy.tell(trial(number, arch, float(number)))
    seen = []
    draw = module._draw
    monkeypatch.setattr(module, "_draw", lambda probs, r: seen.append(probs) or draw(probs, r))
    arch = strategy.ask(rng)
    indices = torch.from_numpy(space.encode(arch))[None]
    with torch.no_grad():
        x, state = strategy.controller.first_input(1), None
        for t, probs in enumerate(seen):
            logits, state = strategy.controller.logits(t, x, state)
            np.testing.assert_allclose(probs, torch.softmax(logits[0], -1).numpy(), atol=1e-6)
            x = strategy.controller.embeddings[t](indices[:, t])
    assert len(seen) == 6 and strategy.n_updates == 3
