"""`sqlensemble train all` end to end on the synthetic benchmark (the shared ``tiny_run`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sqlensemble.train.cli import main
from sqlensemble.train.config import load_preset

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the first test trains four generators
NAMES = ["sqlg1_heavy_aug", "sqlg2_moderate_aug", "sqlg3_light_aug", "sqlg4_no_aug"]
LEVELS = ["heavy", "moderate", "light", "none"]


def test_manifest_lists_the_four_merged_generators(tiny_run) -> None:
    data = yaml.safe_load(tiny_run.manifest.read_text())
    assert list(data) == [
        "preset",
        "base_model",
        "tokenizer",
        "generators",
        "base_sha256",
        "tokenizer_sha256",
    ]
    assert data["base_sha256"].startswith("sha256:") and data["tokenizer_sha256"].startswith("sha256:")
    assert data["preset"] == "cpu-smoke"
    base = Path(data["base_model"])
    assert base.is_absolute() and (base / "config.json").is_file() and data["tokenizer"] == data["base_model"]
    assert [g["name"] for g in data["generators"]] == NAMES
    assert [g["level"] for g in data["generators"]] == LEVELS
    for entry in data["generators"]:
        assert entry["role"] == "generator"
        fields = ["name", "role", "level", "adapter_path", "merged_path", "lora_rank", "lora_alpha", "prompt"]
        assert list(entry) == [*fields, "adapter_sha256", "merged_sha256"]
        assert entry["adapter_sha256"] != entry["merged_sha256"]
        assert entry["prompt"] == load_preset("cpu-smoke").prompt.model_dump()  # what serving compares
        assert Path(entry["adapter_path"]).name == "checkpoint-final"
        assert (Path(entry["adapter_path"]) / "adapter_config.json").is_file()
        merged = Path(entry["merged_path"])
        assert merged == tiny_run.run.resolve() / "merged" / entry["name"]
        for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
            assert (merged / name).is_file(), (merged, name)
        assert (entry["lora_rank"], entry["lora_alpha"]) == (4, 8)


def test_datasets_differ_by_level(tiny_run) -> None:
    sizes = [sum(1 for _ in (tiny_run.run / "datasets" / f"{n}.jsonl").open()) for n in NAMES]
    assert sizes[0] > sizes[1] > sizes[2] > sizes[3] > 0


def test_second_run_skips_finished_generators(tiny_run, capsys: pytest.CaptureFixture[str]) -> None:
    before = {n: (tiny_run.run / "merged" / n / "model.safetensors").stat().st_mtime_ns for n in NAMES}
    argv = ["all", "--preset", "cpu-smoke", "--data", str(tiny_run.train), "--run", str(tiny_run.run)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("done earlier") == 4
    after = {n: (tiny_run.run / "merged" / n / "model.safetensors").stat().st_mtime_ns for n in NAMES}
    assert after == before
