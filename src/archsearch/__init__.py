"""archsearch: neural architecture search on PyTorch.

A search has three parts: a search space (what can be built), a strategy (how the next
architecture is chosen) and an evaluator (how it is scored). An :class:`Experiment` runs
the loop and records every trial in an SQLite store, from which it can resume.
"""

from archsearch._utils import log as _log
from archsearch.checkpoint import load_checkpoint, load_model, save_checkpoint
from archsearch.data import Task, list_datasets, load_task
from archsearch.errors import (
    ArchSearchError,
    BackendError,
    CheckpointError,
    DatasetError,
    ExperimentExistsError,
    FingerprintMismatchError,
    IncompatibleError,
    InvalidArchitectureError,
    InvalidParameterError,
    StoreError,
    TrialFailed,
    TrialPruned,
    UnknownNameError,
)
from archsearch.evaluators import Evaluator, PartialTraining, TabularLookup, TrialContext
from archsearch.experiment import Experiment
from archsearch.objectives import MnasReward, MultiObjective, pareto_front
from archsearch.pruners import Hyperband, Pruner, SuccessiveHalving, create_pruner
from archsearch.spaces import SearchSpace, create_space, list_spaces
from archsearch.storage import MemoryStore, SQLiteStore, Store
from archsearch.strategies import Strategy, create_strategy, list_strategies
from archsearch.training import TrainConfig
from archsearch.types import Architecture, Decision, FrozenTrial, Objective, TrialState

__version__ = "0.1.0"

_log.enable_from_env()  # a worker process logs as the process that started it asked

__all__ = [
    "Architecture", "ArchSearchError", "BackendError", "CheckpointError", "DatasetError", "Decision",
    "Evaluator", "Experiment", "ExperimentExistsError", "FingerprintMismatchError",
    "FrozenTrial", "Hyperband", "IncompatibleError", "InvalidArchitectureError", "InvalidParameterError",
    "MemoryStore", "MnasReward", "MultiObjective", "Objective", "PartialTraining", "Pruner", "SQLiteStore",
    "Store", "SearchSpace", "StoreError", "Strategy", "SuccessiveHalving", "TabularLookup",
    "Task", "TrainConfig", "TrialContext", "TrialFailed", "TrialPruned", "TrialState",
    "UnknownNameError", "create_pruner", "create_space", "create_strategy", "list_datasets", "list_spaces",
    "list_strategies", "load_checkpoint", "load_model", "load_task", "pareto_front",
    "save_checkpoint",
    "__version__",
]
