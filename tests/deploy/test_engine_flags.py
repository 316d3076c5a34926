"""The deploy files and the GPU stack start engines the way the seed's results need."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sqlensemble.stack import load_stack
from sqlensemble.train.config import load_preset

REPO = Path(__file__).resolve().parents[2]
ENGINE_FILES = [
    *sorted((REPO / "deploy" / "k8s" / "engines").glob("*/sql*.yaml")),
    REPO / "deploy" / "compose" / "compose.yaml",
    REPO / "deploy" / "compose" / "compose.lora.yaml",
]


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_engines_take_the_model_positionally_and_ignore_checkpoint_sampling(path: Path) -> None:
    text = path.read_text()
    assert "--model" not in text  # `vllm serve --model` is deprecated: the model comes first
    assert text.count("--generation-config") == text.count("--served-model-name") > 0
    for doc in yaml.safe_load_all(text):
        assert doc is not None


def test_gpu_stack_serves_the_training_length_plus_new_tokens(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(tmp_path))
    stack = load_stack(REPO / "configs" / "stack.gpu-3b.yaml")
    preset = load_preset("qwen2.5-coder-3b")
    assert stack.serve is not None
    longest = max(g.sampling.max_tokens for g in stack.generators)
    assert stack.serve.max_model_len >= preset.sft["max_length"] + longest
