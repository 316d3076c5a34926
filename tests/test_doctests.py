"""The doctest examples of every module that has them run and pass: one list, one runner."""

from __future__ import annotations

import doctest
import importlib

import pytest

ELLIPSIS = doctest.ELLIPSIS
# module -> doctest option flags; each listed module must hold at least one example
MODULES = {
    "sqlensemble.adaptive": 0,
    "sqlensemble.catalog": 0,
    "sqlensemble.checkpoints": 0,
    "sqlensemble.commands.download": 0,
    "sqlensemble.equivalence": ELLIPSIS,
    "sqlensemble.executor": ELLIPSIS,
    "sqlensemble.extract": 0,
    "sqlensemble.guard": ELLIPSIS,
    "sqlensemble.prompts": 0,
    "sqlensemble.schema": 0,
    "sqlensemble.schemainfo": 0,
    "sqlensemble.sqltext": 0,
    "sqlensemble.selection": 0,
    "sqlensemble.voting": ELLIPSIS,
    "sqlensemble.synth.ambiguity": 0,
    "sqlensemble.synth.binding": 0,
    "sqlensemble.synth.domains": 0,
    "sqlensemble.synth.generate": 0,
    "sqlensemble.synth.templates": 0,
    "sqlensemble.synth.variants": 0,
    "sqlensemble.train.augment": ELLIPSIS,
    "sqlensemble.train.base": ELLIPSIS,
    "sqlensemble.train.callbacks": ELLIPSIS,
    "sqlensemble.train.checksums": 0,
    "sqlensemble.train.config": ELLIPSIS,
    "sqlensemble.train.lengths": 0,
    "sqlensemble.train.pretrain": ELLIPSIS,
    "sqlensemble.train.selector": 0,
    "sqlensemble.train.sft": ELLIPSIS,
    "sqlensemble.train.tokenizer": ELLIPSIS,
    "sqlensemble.ensemble.auth": 0,
    "sqlensemble.ensemble.candidates": 0,
    "sqlensemble.ensemble.chat": 0,
    "sqlensemble.ensemble.policy": 0,
    "sqlensemble.ensemble.generation": 0,
    "sqlensemble.ensemble.playground": 0,
    "sqlensemble.ensemble.protocol": 0,
    "sqlensemble.ensemble.selection": 0,
    "sqlensemble.ensemble.service": 0,
    "sqlensemble.serve.engines": 0,
    "sqlensemble.eval.accuracy": 0,
    "sqlensemble.eval.bootstrap": 0,
    "sqlensemble.eval.cost": 0,
    "sqlensemble.eval.comparison": 0,
    "sqlensemble.eval.gold": 0,
    "sqlensemble.eval.predictions": 0,
    "sqlensemble.eval.records": 0,
    "sqlensemble.eval.report": 0,
    "sqlensemble.eval.report_html": 0,
    "sqlensemble.eval.results": 0,
    "sqlensemble.eval.runner": 0,
    "sqlensemble.eval.scoring": 0,
    "sqlensemble.eval.selection_report": 0,
    "sqlensemble.eval.store": 0,
}


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=MODULES[name], report=False)
    assert result.attempted > 0, f"{name} has no doctest examples"
    assert result.failed == 0
