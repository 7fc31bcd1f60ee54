"""Search strategies: how the next architecture is chosen."""

from typing import Any

from archsearch.registry import Registry
from archsearch.strategies.base import Strategy
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.strategies.optuna import OptunaNSGA2, OptunaStrategy, OptunaTPE
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.reinforce import Reinforce

__all__ = ["Strategy", "RandomSearch", "RegularizedEvolution", "Reinforce", "OptunaStrategy",
           "OptunaTPE", "OptunaNSGA2", "STRATEGIES", "create_strategy", "list_strategies"]

STRATEGIES: Registry[Strategy] = Registry("strategy", "archsearch.list_strategies()")
STRATEGIES.register("random")(RandomSearch)
STRATEGIES.register("evolution")(RegularizedEvolution)
STRATEGIES.register("reinforce")(Reinforce)
STRATEGIES.register("optuna-tpe")(OptunaTPE)
STRATEGIES.register("optuna-nsga2")(OptunaNSGA2)


def create_strategy(name: str, **kwargs: Any) -> Strategy:
    """Build a registered strategy by name (``"random"``, ``"evolution"``, ...)."""
    return STRATEGIES.create(name, **kwargs)


def list_strategies(pattern: str = "*") -> list[str]:
    """Registered strategy names matching a shell pattern."""
    return STRATEGIES.names(pattern)
