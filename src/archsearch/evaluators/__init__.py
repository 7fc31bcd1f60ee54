"""Evaluators: how an architecture is scored."""

from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.evaluators.composite import Composite
from archsearch.evaluators.cost import Cost, count_flops, count_params, measure_latency_ms
from archsearch.evaluators.latency_table import LatencyLookup, LatencyTable, build_latency_table
from archsearch.evaluators.partial_training import PartialTraining
from archsearch.evaluators.proxies import PROXIES, ZeroCostProxies
from archsearch.evaluators.tabular import TabularLookup

__all__ = ["Evaluator", "TrialContext", "PartialTraining", "TabularLookup", "Composite", "Cost",
           "LatencyLookup", "LatencyTable", "build_latency_table", "count_params", "count_flops",
           "measure_latency_ms", "PROXIES", "ZeroCostProxies"]
