"""Search strategies: how the next architecture is chosen."""

import json
from typing import Any

from archsearch.errors import InvalidParameterError
from archsearch.registry import Registry
from archsearch.strategies.base import Strategy
from archsearch.strategies.encodings import ArchEncoder
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.strategies.local import LocalSearch
from archsearch.strategies.optuna import OptunaNSGA2, OptunaStrategy, OptunaTPE
from archsearch.strategies.predictor import PredictorGuided
from archsearch.strategies.random import RandomSearch
from archsearch.strategies.reinforce import Reinforce
from archsearch.strategies.surrogate import EnsemblePredictor
from archsearch.strategies.training_free import ProxyScorer, ProxyScreened, TrainingFree

__all__ = ["Strategy", "RandomSearch", "RegularizedEvolution", "Reinforce", "OptunaStrategy",
           "OptunaTPE", "OptunaNSGA2", "ProxyScorer", "ProxyScreened", "TrainingFree",
           "PredictorGuided", "LocalSearch", "EnsemblePredictor", "ArchEncoder", "STRATEGIES",
           "build_strategy", "create_strategy", "list_strategies", "needs_scorer", "parse_spec",
           "parse_strategy_spec"]

STRATEGIES: Registry[Strategy] = Registry("strategy", "archsearch.list_strategies()")
STRATEGIES.register("random")(RandomSearch)
STRATEGIES.register("evolution")(RegularizedEvolution)
STRATEGIES.register("reinforce")(Reinforce)
STRATEGIES.register("optuna-tpe")(OptunaTPE)
STRATEGIES.register("optuna-nsga2")(OptunaNSGA2)
STRATEGIES.register("naswot")(TrainingFree)
STRATEGIES.register("predictor")(PredictorGuided)
STRATEGIES.register("local")(LocalSearch)


def create_strategy(name: str, **kwargs: Any) -> Strategy:
    """Build a registered strategy by name (``"random"``, ``"evolution"``, ...)."""
    return STRATEGIES.create(name, **kwargs)


def needs_scorer(name: str, kwargs: dict[str, Any]) -> bool:
    """Whether a parsed spec ranks by a training-free proxy (``naswot`` or ``screen=K``)."""
    return name == "naswot" or "screen" in kwargs


def build_strategy(name: str, kwargs: dict[str, Any],
                   scorer: ProxyScorer | None = None) -> Strategy:
    """A strategy from a parsed spec, with the proxy settings a spec may carry.

    ``screen=K`` wraps the strategy in :class:`ProxyScreened` with ``K`` candidates (and
    ``screen_first=N`` screens only the first ``N`` architectures, a warm start);
    ``naswot`` and a screened strategy take ``scorer``. ``proxy=NAME`` in the spec names the
    proxy the caller's scorer must compute (checked here).
    """
    kwargs = dict(kwargs)
    screen, proxy = kwargs.pop("screen", None), kwargs.pop("proxy", None)
    first = kwargs.pop("screen_first", None)
    if first is not None and screen is None:
        raise InvalidParameterError("screen_first=N goes with screen=K.")
    if proxy is not None and (scorer is None or scorer.proxy != proxy):
        raise InvalidParameterError(f"The spec asks for proxy {proxy!r} but the scorer given "
                                    f"computes {getattr(scorer, 'proxy', None)!r}.")
    if name == "naswot":
        if screen is not None:
            raise InvalidParameterError("naswot already ranks by a proxy; it takes no screen=.")
        return create_strategy(name, scorer=scorer, **kwargs)
    strategy = create_strategy(name, **kwargs)
    if screen is None:
        return strategy
    return ProxyScreened(strategy, scorer, screen, first)


def list_strategies(pattern: str = "*") -> list[str]:
    """Registered strategy names matching a shell pattern."""
    return STRATEGIES.names(pattern)


def parse_strategy_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"reinforce:lr=0.01:entropy_weight=1e-3"`` -> ``("reinforce", {"lr": 0.01, ...})``.

    Values are read as JSON (numbers, ``true``, ``null``, ...), else kept as text. The name
    must be registered; unknown settings fail when the strategy is created.
    """
    name, kwargs = parse_spec(spec)
    STRATEGIES.get(name)  # an unknown name fails here, listing the known ones
    return name, kwargs


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"NAME:KEY=VALUE:..."`` -> ``(NAME, {KEY: VALUE, ...})``, values read as JSON else text."""
    name, *pairs = spec.strip().split(":")
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InvalidParameterError(
                f"A strategy spec looks like NAME[:KEY=VALUE]..., e.g. reinforce:lr=0.01. "
                f"Got {spec!r}.")
        try:
            kwargs[key.strip()] = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deep: the text itself
            kwargs[key.strip()] = value
    return name.strip(), kwargs
