"""Edited valid architecture strings of every space, and inputs that are not strings.

The space tests already throw random text and near-miss grammars at each parser and replace
single characters of valid chain and mnas strings; here valid strings of all four spaces get
rougher edits (deleted, duplicated and swapped spans, huge numbers, foreign op names,
unicode), parsers get non-string inputs, and genotype text must never be evaluated.
"""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch
from fuzz_support import fuzz, must_fail, outcome, print_summary
from hypothesis import given
from hypothesis import strategies as st

import archsearch
from archsearch.errors import ArchSearchError, InvalidArchitectureError
from archsearch.spaces.chain import ChainSpace
from archsearch.spaces.darts import parse_genotype, space_for
from archsearch.spaces.mnas import MnasSpace

torch.set_num_threads(1)

SPACES = {
    "nb201": archsearch.create_space("nb201"),
    "darts": archsearch.create_space("darts"),
    "chain": ChainSpace(**ChainSpace.TEST_CONFIG),
    "mnas": MnasSpace(n_blocks=3),
}
JUNK = st.sampled_from(["", "conv_9x9", "none", "nor_conv_3x3", "sep_conv_3x3", "skip", "~", "|",
                        "+", ":", "_", "(", ")", "[", "]", ",", "'", "\"", "L9:", "f4", "k3x3",
                        "99999999999999999999999999", "-1", "1e309", "nan", "\x00", "\u0663",
                        "\u00e9", "\U0001f600", "\u202e", "\n", " ", "Genotype(", "range(",
                        "__import__('os')", "9" * 5000])


@st.composite
def edited(draw: st.DrawFn, space_name: str) -> str:
    """A valid string of the space after one to three rough edits."""
    space = SPACES[space_name]
    text = str(space.sample(np.random.default_rng(draw(st.integers(0, 2**32 - 1)))))
    for _ in range(draw(st.integers(1, 3))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 12)))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "number",
                                     "repeat"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif edit == "swap" and n >= 2:
            a, b = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2)))
            chars = list(text)
            chars[a], chars[b] = chars[b], chars[a]
            text = "".join(chars)
        elif edit == "insert":
            text = text[:i] + draw(st.one_of(JUNK, st.text(max_size=4))) + text[i:]
        elif edit == "replace":
            text = text[:i] + draw(JUNK) + text[j:]
        elif edit == "number":  # a digit run becomes a huge or negative number
            digits = [k for k, c in enumerate(text) if c.isdigit()]
            if digits:
                k = draw(st.sampled_from(digits))
                text = text[:k] + draw(st.sampled_from(["-1", "10" * 40, "0" * 30, "7" * 4400]))\
                    + text[k + 1:]
        elif edit == "repeat":
            text = text * draw(st.integers(2, 3))
    return text


@pytest.mark.parametrize("name", sorted(SPACES))
@fuzz(200)
@given(data=st.data())
def test_edited_valid_strings(name: str, data: st.DataObject) -> None:
    space = SPACES[name]
    text = data.draw(edited(name))
    arch = outcome(f"arch:{name}:edited", lambda: space.parse(text), InvalidArchitectureError)
    if arch is not None:
        assert space.parse(str(arch)) == arch


NOT_TEXT = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=20),
                     st.lists(st.text(max_size=5), max_size=3),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                     st.just(("sep_conv_3x3", 0)))


@pytest.mark.parametrize("name", ["nb201", "darts", "mnas"])  # chain: a fixed list in its tests
@fuzz(200)
@given(value=NOT_TEXT)
def test_values_that_are_not_strings(name: str, value: object) -> None:
    must_fail(f"arch:{name}:not-a-str", lambda: SPACES[name].parse(value),  # type: ignore[arg-type]
              InvalidArchitectureError)


# --- DARTS genotypes: parsed as data, never run -------------------------------------------
CALLS = st.sampled_from([
    "__import__('builtins').exec('raise SystemExit(3)')", "exec('x')", "eval('1')",
    "open('/etc/passwd').read()", "(lambda: 0)()", "globals()", "print('x')", "[0 for _ in ()]",
    "'a' + 'b'", "f'{1}'", "1 if 1 else 0", "x.y", "{0: 1}", "{'sep_conv_3x3'}", "...", "b'op'",
    "*[1]", "**{}", "0x10", "True", "2j", "1.5", "-(-1)", "+1", "~0", "not 0", "(yield)", "await x",
    "range(2, 6, 0)", "range(10**30)", "range(2, 10**30)", "range(*[2, 6])", "range(x=2)",
])


@st.composite
def genotype_with_code(draw: st.DrawFn) -> str:
    """A published genotype string with one field, pair, op or index replaced by an expression."""
    text = str(archsearch.spaces.GENOTYPES[draw(st.sampled_from(
        sorted(archsearch.spaces.GENOTYPES)))])
    targets = ["'sep_conv_3x3'", "'skip_connect'", "0", "1", "2", "[2, 3, 4, 5]", "normal=",
               "reduce_concat="]
    target = draw(st.sampled_from([t for t in targets if t in text]))
    code = draw(CALLS)
    if target.endswith("="):
        return text.replace(target, f"{target}{code}, _{target}" if draw(st.booleans()) else code, 1)
    return text.replace(target, code, 1)


@fuzz(200)
@given(genotype_with_code())
def test_genotype_text_is_never_evaluated(text: str) -> None:
    calls: list[str] = []
    real_eval, real_exec = builtins.eval, builtins.exec

    def spy(name):
        def refuse(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} called on genotype text")
        return refuse

    builtins.eval, builtins.exec = spy("eval"), spy("exec")  # type: ignore[assignment]
    try:
        outcome("genotype:code", lambda: parse_genotype(text), InvalidArchitectureError)
        outcome("genotype:code-space", lambda: SPACES["darts"].parse(text),
                InvalidArchitectureError)
    finally:
        builtins.eval, builtins.exec = real_eval, real_exec
    assert not calls


@fuzz(200)
@given(st.one_of(edited("darts"), genotype_with_code()))
def test_space_for_a_genotype_string(text: str) -> None:
    """``space_for`` sizes a space from the genotype: odd or huge pair lists must still fail cleanly."""
    found = outcome("genotype:space_for", lambda: space_for(text, channels=4, layers=2),
                    ArchSearchError)
    if found is not None:
        space, arch = found
        assert space.parse(str(arch)) == arch


def test_deep_nesting_is_refused_in_one_line() -> None:
    for text in ("Genotype(normal=" + "[" * 3000 + "]" * 3000 + ")",
                 "Genotype(" + "(" * 200 + ")" * 200 + ")",
                 "Genotype(normal=[" + "-" * 3000 + "1])",
                 "Genotype(normal=[('a', " + "+" * 2000 + "1)])"):
        must_fail("genotype:nesting", lambda t=text: parse_genotype(t), InvalidArchitectureError)


HOSTILE = {"repeated": "|nor_conv_3x3~0|" * 200_000, "digits": "|nor_conv_3x3~" + "9" * 100_000 + "|",
           "digits_in_a_cell": "|nor_conv_3x3~" + "9" * 4400 + "|+|nor_conv_3x3~0|nor_conv_3x3~1|+|"
                               "nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
           "long_parts": "x" * 5000 + "|" + "y" * 5000 + "|z", "nested": "(" * 100_000 + ")" * 100_000,
           "html": "<img src=x onerror=alert(1)>", "rtl": "\u202e|nor_conv_3x3~0|", "nul": "\x00" * 1000,
           "emoji": "\U0001f600" * 10_000, "surrogate": "\ud800", "newlines": "\n" * 100_000,
           "fullwidth": "\uff5cnor_conv_3x3\uff5e0\uff5c", "json": '{"a": ' * 50_000,
           "code": "__import__('os').system('true')", "format": "{0.__class__}%s%n"}


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_strings_get_a_short_one_line_error(name: str, kind: str) -> None:
    message = must_fail(f"arch:hostile-{name}", lambda: SPACES[name].parse(HOSTILE[kind]),
                        InvalidArchitectureError)
    assert len(message) < 600, (len(message), message[:200])


def test_summary() -> None:
    print_summary("arch:")
    print_summary("genotype:")
