"""Presets resolve to TRL's own SFTConfig and PEFT's LoraConfig with the values they state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlensemble.train.base import base_settings
from sqlensemble.train.config import load_preset, packaged, preset_names
from sqlensemble.train.errors import PresetError
from sqlensemble.train.sft import build_sft_config, lora_config, sft_kwargs


def test_qwen_3b_preset_resolves_to_the_specified_values(tmp_path: Path) -> None:
    preset = load_preset("qwen2.5-coder-3b")
    assert preset.base_model == "Qwen/Qwen2.5-Coder-3B-Instruct"
    assert preset.base_model_for(tmp_path) == "Qwen/Qwen2.5-Coder-3B-Instruct"
    assert preset.base is None and preset.torch_dtype == "bfloat16"
    assert preset.attn_implementation == "auto"  # flash attention when installed, else sdpa
    kwargs = sft_kwargs(preset.sft, tmp_path / "out", seed=101, overrides={"use_cpu": True})
    config = build_sft_config(kwargs)  # bf16 on a CPU-only machine needs use_cpu to construct
    assert type(config).__module__.startswith("trl")
    assert config.learning_rate == 2e-6
    assert config.per_device_train_batch_size == 2
    assert config.num_train_epochs == 5
    assert config.max_length == 10240
    assert config.gradient_checkpointing is True
    assert config.bf16 is True
    assert config.save_steps == 500
    # the seed's train/xiyan_sft_3b.sh
    assert config.gradient_accumulation_steps == 2
    assert config.warmup_steps == 0.1
    assert config.weight_decay == 0.1 and config.adam_beta2 == 0.95
    assert config.save_total_limit == 100
    assert config.seed == 101
    assert config.output_dir == str(tmp_path / "out")
    lora = lora_config(preset)
    assert (lora.r, lora.lora_alpha) == (512, 512)
    assert lora.target_modules == "all-linear"


@pytest.mark.parametrize("name", ["cpu-tiny", "cpu-smoke"])
def test_cpu_presets_build_a_vllm_friendly_base(name: str, tmp_path: Path) -> None:
    preset = load_preset(name)
    settings = base_settings(preset)
    assert settings.model.head_dim >= 64
    assert preset.base_model_for(tmp_path) == str((tmp_path / "base").resolve())
    config = build_sft_config(sft_kwargs(preset.sft, tmp_path, seed=1, overrides={}))
    assert config.bf16 is False
    assert settings.train.max_steps > 0


def test_every_packaged_preset_loads() -> None:
    assert {"cpu-tiny", "cpu-smoke", "qwen2.5-coder-3b"} <= set(preset_names())
    for name in preset_names():
        assert load_preset(name).name == name


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(PresetError, match=r"unknown preset 'nope'; known: .*cpu-tiny"):
        load_preset("nope")


def test_preset_file_with_a_bad_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nlora: {r: 0, lora_alpha: 8}\n")
    with pytest.raises(PresetError, match=r"lora\.r"):
        load_preset(str(path))


def test_unknown_sft_field_is_a_preset_error(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match=r"invalid SFTConfig"):
        build_sft_config(sft_kwargs({"learning_rat": 1e-3}, tmp_path, seed=0, overrides={}))


def test_hub_preset_builds_no_base() -> None:
    with pytest.raises(PresetError, match="builds none"):
        base_settings(load_preset("qwen2.5-coder-3b"))


def test_zero2_config_is_deepspeed_stage_2() -> None:
    config = json.loads(packaged("deepspeed/zero2.json").read_text())
    assert config["zero_optimization"]["stage"] == 2
    assert config["train_micro_batch_size_per_gpu"] == "auto"


@pytest.mark.parametrize(
    ("stack_file", "preset_name"),
    [("configs/stack.cpu.yaml", "cpu-tiny"), ("configs/stack.gpu-3b.yaml", "qwen2.5-coder-3b")],
)
def test_stack_prompts_match_the_prompts_the_generators_trained_on(stack_file: str, preset_name: str) -> None:
    import yaml

    from sqlensemble.stack import PromptConfig

    preset = load_preset(preset_name)
    stack = yaml.safe_load((Path(__file__).resolve().parents[2] / stack_file).read_text(encoding="utf-8"))
    for generator in stack["generators"]:
        sent = PromptConfig(**generator.get("prompt", {}))
        assert sent == preset.prompt_for(generator["name"]), generator["name"]


def test_a_generator_can_be_trained_on_its_own_prompt_rendering(tmp_path: Path) -> None:
    """XiYan's lever for diverse generators: one generator's schema rendered another way, recorded in the
    manifest so the stack must serve it the same way."""
    from sqlensemble.train.config import load_generators
    from sqlensemble.train.manifest import build_manifest

    text = (packaged("presets/cpu-smoke.yaml")).read_text(encoding="utf-8")
    path = tmp_path / "own.yaml"
    path.write_text(
        text + "\ngenerator_prompts:\n  sqlg2_moderate_aug: {max_examples: 0}\n", encoding="utf-8"
    )
    preset = load_preset(str(path))
    assert preset.prompt_for("sqlg2_moderate_aug").max_examples == 0
    assert preset.prompt_for("sqlg1_heavy_aug") == preset.prompt
    run = tmp_path / "run"
    for spec in load_generators()[:2]:
        (run / "adapters" / spec.name / "checkpoint-final").mkdir(parents=True)
        (run / "adapters" / spec.name / "checkpoint-final" / "adapter_config.json").write_text("{}")
    manifest = build_manifest(preset, run, load_generators())
    prompts = {g.name: g.prompt.max_examples for g in manifest.generators}
    assert prompts == {"sqlg1_heavy_aug": preset.prompt.max_examples, "sqlg2_moderate_aug": 0}
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\ngenerator_prompts:\n  nobody: {max_examples: 0}\n", encoding="utf-8")
    with pytest.raises(PresetError, match="unknown generator"):
        load_preset(str(bad))
