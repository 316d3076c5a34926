"""The doctest examples in the gateway modules run and pass."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sqlensemble.ensemble.auth",
    "sqlensemble.ensemble.candidates",
    "sqlensemble.ensemble.chat",
    "sqlensemble.ensemble.generation",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), verbose=False, report=False)
    assert result.attempted > 0
    assert result.failed == 0
