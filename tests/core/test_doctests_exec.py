"""The doctest examples in the guard, executor, equivalence and voting modules run and pass."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from sqlensemble import equivalence, executor, guard, voting


@pytest.mark.parametrize("module", [guard, executor, equivalence, voting], ids=lambda m: m.__name__)
def test_module_doctests(module: ModuleType) -> None:
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
