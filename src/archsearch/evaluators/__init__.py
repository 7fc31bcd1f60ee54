"""Evaluators: how an architecture is scored."""

from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.evaluators.cost import count_flops, count_params, measure_latency_ms
from archsearch.evaluators.partial_training import PartialTraining
from archsearch.evaluators.tabular import TabularLookup

__all__ = ["Evaluator", "TrialContext", "PartialTraining", "TabularLookup", "count_params", "count_flops",
           "measure_latency_ms"]
