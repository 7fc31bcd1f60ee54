"""The final-training recipe: weight averaging, drop-path, auxiliary head, label smoothing."""

import numpy as np
import pytest
import torch
from torch import nn

import archsearch
from archsearch.data import load_task
from archsearch.errors import InvalidParameterError
from archsearch.spaces.darts_genotypes import GENOTYPES
from archsearch.training import TrainConfig, WeightAverage, train_model

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def digits():
    task = load_task("digits", seed=0, n_train=300)
    return task.x_train, task.y_train


def nb201(arch=ARCH, seed=0):
    torch.manual_seed(seed)
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    return space.build(space.parse(arch), (1, 8, 8), 10)


def darts_net(auxiliary, seed=0):
    torch.manual_seed(seed)
    space = archsearch.create_space("darts", channels=4, layers=3, auxiliary=auxiliary)
    return space.build(space.parse(str(GENOTYPES["DARTS_V2"])), (1, 8, 8), 10)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_extras_stay_out_of_the_identity_until_used():
    assert set(TrainConfig().to_dict()) == {"n_epochs", "batch_size", "lr", "momentum",
                                           "weight_decay", "label_smoothing", "grad_clip"}
    assert TrainConfig(ema_decay=0.99, drop_path=0.1).to_dict()["ema_decay"] == 0.99


@pytest.mark.parametrize("bad", [{"ema_decay": 1.0}, {"drop_path": 1.0}, {"aux_weight": -0.1},
                                 {"drop_path": "0.2"}, {"lr": float("inf")},
                                 {"weight_decay": float("inf")}, {"grad_clip": float("nan")}])
def test_out_of_range_recipe_is_refused(bad):
    with pytest.raises(InvalidParameterError, match=next(iter(bad))):
        TrainConfig(**bad).check()


def test_weight_average_follows_the_formula_with_warmup():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    expected = {k: v.clone().double() for k, v in model.state_dict().items()}
    for step in range(1, 6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model.train()(torch.randn(4, 3))  # moves the batch-norm statistics and step count
        average.update(model)
        decay = min(0.9, (1 + step) / (10 + step))
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                expected[key] = decay * expected[key] + (1 - decay) * value.double()
    for key, value in model.state_dict().items():
        if value.dtype.is_floating_point:
            torch.testing.assert_close(average.averaged[key].double(), expected[key])
        else:
            assert torch.equal(average.averaged[key], value)  # step counts are copied
    assert average.steps == 5


def test_training_with_ema_ends_on_the_averaged_weights(digits):
    x, y = digits
    plain, averaged = nb201(), nb201()
    cfg = TrainConfig(n_epochs=2, batch_size=64)
    train_model(plain, x, y, cfg, generator=torch.Generator().manual_seed(0))
    history = train_model(averaged, x, y, TrainConfig(n_epochs=2, batch_size=64, ema_decay=0.9),
                          generator=torch.Generator().manual_seed(0))
    assert [r["epoch"] for r in history] == [1, 2]
    # the same trajectory (the average does not feed back), but another end point
    w_plain, w_avg = weights(plain), weights(averaged)
    assert any(not torch.equal(w_plain[k], w_avg[k]) for k in w_plain if w_plain[k].is_floating_point())


def test_history_records_each_epoch(digits):
    x, y = digits
    history = train_model(nb201(), x, y, TrainConfig(n_epochs=3, batch_size=64),
                          generator=torch.Generator().manual_seed(0))
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert all(0 <= r["train_accuracy"] <= 1 for r in history)
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine reaches zero
    assert history[0]["lr"] > history[1]["lr"]
    assert [r["seconds"] for r in history] == sorted(r["seconds"] for r in history)
    assert history[-1]["train_accuracy"] > history[0]["train_accuracy"]


def features(net, x, seed):
    """The last cell's output (the classifier of an untrained network may be all zeros)."""
    torch.manual_seed(seed)
    out = net.stem(x)
    for cell in net.cells:
        out = cell(out, net.drop_path_prob) if hasattr(cell, "_edge") else cell(out)
    return out


def test_drop_path_drops_only_non_skip_edges_in_training():
    x = torch.randn(32, 1, 8, 8)
    net = nb201().train()
    net.drop_path_prob = 0.5
    assert not torch.allclose(features(net, x, 1), features(net, x, 2))
    net.eval()
    assert torch.equal(features(net, x, 1), features(net, x, 2))
    skips = nb201(ALL_SKIP).train()
    skips.drop_path_prob = 0.5
    dropped = features(skips, x, 1)
    skips.drop_path_prob = 0.0
    assert torch.equal(dropped, features(skips, x, 1))  # nothing to drop in a cell of skips


def test_drop_path_rises_over_the_epochs(digits):
    x, y = digits
    seen = []
    net = nb201()
    train_model(net, x, y, TrainConfig(n_epochs=4, batch_size=128, drop_path=0.2),
                generator=torch.Generator().manual_seed(0),
                on_epoch=lambda epoch, loss: seen.append(net.drop_path_prob))
    assert seen == pytest.approx([0.0, 0.05, 0.1, 0.15])


def test_auxiliary_loss_trains_the_auxiliary_head(digits):
    x, y = digits
    for weight in (0.0, 0.4):
        net = darts_net(auxiliary=True)
        before = weights(net.auxiliary_head)
        train_model(net, x[:128], y[:128], TrainConfig(n_epochs=1, batch_size=64, aux_weight=weight),
                    generator=torch.Generator().manual_seed(0))
        after = weights(net.auxiliary_head)
        changed = any(not torch.equal(before[k], after[k]) for k in before
                      if before[k].is_floating_point() and "running" not in k)
        assert changed == (weight > 0)


def test_recipe_parts_the_network_lacks_are_refused(digits):
    x, y = digits
    with pytest.raises(InvalidParameterError, match="auxiliary head"):
        train_model(darts_net(auxiliary=False), x, y, TrainConfig(n_epochs=1, aux_weight=0.4),
                    generator=torch.Generator())
    chain = archsearch.create_space("chain")
    model = chain.build(chain.sample(np.random.default_rng(0)), (1, 8, 8), 10)
    with pytest.raises(InvalidParameterError, match="drop-path"):
        train_model(model, x, y, TrainConfig(n_epochs=1, drop_path=0.1), generator=torch.Generator())


def test_resume_with_the_whole_recipe_is_exact(digits):
    x, y = digits[0][:192], digits[1][:192]
    cfg = TrainConfig(n_epochs=3, batch_size=64, aux_weight=0.4, drop_path=0.3, ema_decay=0.9,
                      label_smoothing=0.1)
    states = []
    whole = darts_net(auxiliary=True)
    full = train_model(whole, x, y, cfg, generator=torch.Generator().manual_seed(0),
                       save_state=lambda s: states.append(torch.utils._pytree.tree_map(
                           lambda v: v.clone() if torch.is_tensor(v) else v, s)))
    torch.manual_seed(123)  # another global random state: the saved one must be restored
    resumed = darts_net(auxiliary=True, seed=7)
    rest = train_model(resumed, x, y, cfg, generator=torch.Generator(), resume=states[0])
    assert [r["loss"] for r in rest] == [r["loss"] for r in full]
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
