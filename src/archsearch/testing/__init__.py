"""Contract checks any search space or strategy must pass; usable from a user's tests.

Example:
    >>> import archsearch
    >>> from archsearch.testing import check_space
    >>> check_space(archsearch.create_space("nb201", channels=4, cells_per_stage=1))
"""

from archsearch.testing.contracts import check_parse, check_space, check_strategy
from archsearch.testing.faults import FaultInjector
from archsearch.testing.toy import MatchTarget

__all__ = ["check_parse", "check_space", "check_strategy", "FaultInjector", "MatchTarget"]
