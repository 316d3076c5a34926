"""The doctest examples in the core modules of this area run and pass."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["sqlensemble.schema", "sqlensemble.catalog", "sqlensemble.prompts", "sqlensemble.extract"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), verbose=False, report=False)
    assert result.attempted > 0
    assert result.failed == 0
