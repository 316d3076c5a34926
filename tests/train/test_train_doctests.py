"""The doctest examples in the training modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sqlensemble.train.augment",
    "sqlensemble.train.base",
    "sqlensemble.train.callbacks",
    "sqlensemble.train.config",
    "sqlensemble.train.pretrain",
    "sqlensemble.train.sft",
    "sqlensemble.train.tokenizer",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no doctest examples"
    assert result.failed == 0
