"""Random and malformed arch strings end in an architecture or a one-line error, nothing else."""

from hypothesis import given, settings
from hypothesis import strategies as st

import archsearch
from archsearch.spaces.nb201 import NB201_OPS
from archsearch.testing import check_parse

SPACE = archsearch.create_space("nb201")
ITEM = st.builds(lambda op, i: f"{op}~{i}", st.sampled_from([*NB201_OPS, "conv", ""]),
                 st.integers(-1, 4))
GROUP = st.lists(ITEM, min_size=0, max_size=4).map(lambda items: "|" + "|".join(items) + "|")
NEAR_MISS = st.lists(GROUP, min_size=1, max_size=4).map("+".join)


def parse_or_error(text: str) -> None:
    check_parse(SPACE, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text(text):
    parse_or_error(text)


@settings(max_examples=300, deadline=None)
@given(NEAR_MISS)
def test_near_misses(text):
    parse_or_error(text)
