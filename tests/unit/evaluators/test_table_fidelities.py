"""A table's fidelities under a pruner: the low one is reported first, the high one read only
by trials that go on."""

import archsearch
from archsearch import Experiment, SuccessiveHalving, TabularLookup, TrialState

OBJECTIVE, LOW = "cifar10_val_acc_200ep", "cifar10_val_acc_12ep"


def _experiment(table, pruner):
    evaluator = TabularLookup(table, OBJECTIVE)
    return Experiment.create("t", archsearch.create_space("nb201"),
                             archsearch.create_strategy("random"), evaluator, store=":memory:",
                             pruner=pruner)


def test_fidelities_are_the_objective_metric_at_fewer_epochs(nb201_table):
    evaluator = TabularLookup(nb201_table, OBJECTIVE)
    evaluator.setup(archsearch.create_space("nb201"))
    assert evaluator.fidelities() == [(12, LOW), (200, OBJECTIVE)]
    evaluator = TabularLookup(nb201_table, LOW)
    evaluator.setup(archsearch.create_space("nb201"))
    assert evaluator.fidelities() == [(12, LOW)]  # never more than the objective's epochs


def test_pruned_table_trials_stop_at_the_low_fidelity(nb201_table):
    exp = _experiment(nb201_table, SuccessiveHalving(min_resource=12, eta=3))
    exp.run(n_trials=30)
    trials = exp.trials()
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(pruned) + len(complete) == 30 and len(pruned) >= 15, trials
    for t in pruned:
        assert dict(t.values) == {"epochs": 12.0} and list(t.intermediate) == [12]
    for t in complete:
        assert dict(t.intermediate) == {12: t.values[LOW], 200: t.values[OBJECTIVE]}
    # the rung at 12 epochs kept only trials in the best third of what came before them
    assert exp.pruner.rungs()[12] == [t.intermediate[12] for t in trials]


def test_without_a_pruner_the_lookup_reports_nothing(nb201_table):
    exp = _experiment(nb201_table, None)
    exp.run(n_trials=3)
    assert all(t.state is TrialState.COMPLETE and not t.intermediate for t in exp.trials())
