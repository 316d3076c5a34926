"""Result equivalence, driven by tests/data/equivalence_cases.yaml (one parametrized test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlensemble.equivalence import MODES, equivalent, result_key

CASES_FILE = Path(__file__).resolve().parent.parent / "data" / "equivalence_cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


def test_cases_cover_every_mode() -> None:
    assert len(CASES) >= 20
    assert all(set(case["expect"]) == set(MODES) for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_equivalence_case(case: dict[str, Any]) -> None:
    a = [tuple(row) for row in case["a"]]
    b = [tuple(row) for row in case["b"]]
    for mode, expected in case["expect"].items():
        assert equivalent(a, b, mode) is expected, mode
        assert equivalent(b, a, mode) is expected, f"{mode} (swapped)"
        # Rows read back from JSON are lists; they must key the same as tuples.
        assert (result_key(case["a"], mode) == result_key(b, mode)) is expected, f"{mode} (lists)"


def test_bird_mode_is_bird_set_comparison() -> None:
    # BIRD's evaluation.py: res = 1 if set(predicted_res) == set(ground_truth_res) else 0
    predicted = [(1, "x"), (1, "x"), (2.0, "y")]
    gold = [(2, "y"), (1, "x")]
    assert equivalent(predicted, gold, "bird") is (set(predicted) == set(gold))


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown equivalence"):
        equivalent([(1,)], [(1,)], "sorted")  # type: ignore[arg-type]
