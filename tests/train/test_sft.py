"""Real TRL + PEFT training on a tiny model: dataset format, a few steps, resume, merge equivalence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sqlensemble.manifest import load_manifest
from sqlensemble.train.assemble import read_jsonl
from sqlensemble.train.cli import main
from sqlensemble.train.config import find_generator, load_generators, load_preset
from sqlensemble.train.manifest import build_manifest, write_manifest
from sqlensemble.train.merge import merge_generator
from sqlensemble.train.sft import build_sft_config, lora_config, sft_kwargs, train_generator

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # builds a base, trains an adapter
PRESET = load_preset("cpu-smoke")


@pytest.fixture(scope="module")
def smoke_run(mini_bird: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Datasets assembled from the mini split and a cpu-smoke base built on them."""
    run = tmp_path_factory.mktemp("smoke_run")
    assert main(["base", "--preset", "cpu-smoke", "--data", str(mini_bird), "--run", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def trained(smoke_run: Path) -> Path:
    """sqlg4_no_aug trained for a few steps at a high learning rate, so the adapter visibly matters."""
    spec = find_generator("sqlg4_no_aug")
    overrides = {"max_steps": 4, "learning_rate": 5e-2, "save_steps": 4}
    return train_generator(PRESET, spec, smoke_run, overrides=overrides)


def test_dataset_format_is_accepted_by_trl_with_completion_only_loss(smoke_run: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    records = read_jsonl(smoke_run / "datasets" / "sqlg4_no_aug.jsonl")
    tokenizer = AutoTokenizer.from_pretrained(smoke_run / "base")
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(smoke_run / "base"),
        args=build_sft_config(sft_kwargs(PRESET.sft, smoke_run / "fmt", 0, {})),
        train_dataset=Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=lora_config(PRESET),
    )
    assert trainer.completion_only_loss is True
    row = trainer.train_dataset[0]
    first = next(i for i, label in enumerate(row["labels"]) if label != -100)
    assert all(label == -100 for label in row["labels"][:first])
    assert row["labels"][first:] == row["input_ids"][first:]
    assert tokenizer.decode(row["labels"][first:]) == records[0]["completion"][0]["content"] + "<|im_end|>\n"
    prompt = tokenizer.decode(row["input_ids"][:first])
    assert prompt.endswith("```sql<|im_end|>\n<|im_start|>assistant\n")


def test_a_few_real_sft_steps_write_an_adapter_and_the_log(trained: Path) -> None:
    from safetensors.torch import load_file

    assert trained.name == "checkpoint-final"
    assert json.loads((trained / "adapter_config.json").read_text())["r"] == PRESET.lora.r
    assert (trained / "chat_template.jinja").is_file() and (trained / "tokenizer.json").is_file()
    weights = load_file(trained / "adapter_model.safetensors")
    assert any("lora_B" in k and float(v.abs().sum()) > 0 for k, v in weights.items())
    lines = [line for line in (trained.parent / "training.log").read_text().splitlines() if "loss=" in line]
    assert len(lines) >= 4
    for line in lines:
        fields = dict(part.split("=") for part in line.split())
        if "loss" in fields:
            assert math.isfinite(float(fields["loss"])) and float(fields["learning_rate"]) >= 0


def test_resume_continues_from_the_last_checkpoint(smoke_run: Path) -> None:
    spec = find_generator("sqlg3_light_aug")
    first = {"max_steps": 2, "save_steps": 2}
    train_generator(PRESET, spec, smoke_run, overrides=first)  # the "interrupted" run: stops at step 2
    out = smoke_run / "adapters" / spec.name
    assert (out / "checkpoint-2").is_dir() and not (out / "checkpoint-4").exists()
    train_generator(PRESET, spec, smoke_run, resume=True, overrides={"max_steps": 4, "save_steps": 2})
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    log = (out / "training.log").read_text()
    assert "train begin at step=0 max_steps=2" in log
    assert "train begin at step=2 max_steps=4" in log
    resumed = log.split("train begin at step=2")[1]
    steps = [
        int(p.split("=")[1]) for line in resumed.splitlines() for p in line.split() if p.startswith("step=")
    ]
    assert steps and min(steps) > 2


def _greedy(model, tokenizer, prompts: list[list[dict[str, str]]]) -> tuple[list[list[int]], list]:
    import torch

    outputs, logits = [], []
    for messages in prompts:
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            logits.append(model(**ids).logits[0, -1])
            out = model.generate(**ids, max_new_tokens=12, do_sample=False)
        outputs.append(out[0, ids["input_ids"].shape[1] :].tolist())
    return outputs, logits


def test_merged_model_matches_base_plus_adapter(smoke_run: Path, trained: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged_path = merge_generator(PRESET, find_generator("sqlg4_no_aug"), smoke_run)
    assert merged_path == smoke_run / "merged" / "sqlg4_no_aug"
    assert not (merged_path / "adapter_config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(merged_path)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    prompts = [r["prompt"] for r in read_jsonl(smoke_run / "datasets" / "sqlg4_no_aug.jsonl")[:3]]

    base = AutoModelForCausalLM.from_pretrained(smoke_run / "base").eval()
    _, base_logits = _greedy(base, tokenizer, prompts)
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(smoke_run / "base"), trained
    ).eval()
    adapted_out, adapted_logits = _greedy(adapted, tokenizer, prompts)
    merged = AutoModelForCausalLM.from_pretrained(merged_path).eval()
    merged_out, merged_logits = _greedy(merged, tokenizer, prompts)

    assert merged_out == adapted_out
    for a, m, b in zip(adapted_logits, merged_logits, base_logits, strict=True):
        assert torch.allclose(a, m, atol=1e-4)
        assert not torch.allclose(a, b, atol=1e-3)  # the adapter really changes the model


def test_manifest_lists_trained_generators(smoke_run: Path, trained: Path) -> None:
    write_manifest(build_manifest(PRESET, smoke_run, load_generators()), smoke_run)
    manifest = load_manifest(smoke_run / "generators.yaml")
    assert manifest.preset == "cpu-smoke"
    assert manifest.base_model == manifest.tokenizer == str((smoke_run / "base").resolve())
    entry = next(g for g in manifest.generators if g.name == "sqlg4_no_aug")
    assert entry.level == "none" and entry.adapter_path == str(trained.resolve())
    assert (entry.lora_rank, entry.lora_alpha) == (PRESET.lora.r, PRESET.lora.lora_alpha)
    assert entry.prompt == PRESET.prompt  # what serve and the gateway compare the stack file with
    assert "sqlg1_heavy_aug" not in {g.name for g in manifest.generators}
