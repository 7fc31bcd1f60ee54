"""The runnable examples in docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import archsearch

MODULES = sorted(m.name for m in pkgutil.walk_packages(archsearch.__path__, "archsearch.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
