"""Training configuration as data: presets (``presets/*.yaml``) and the generators and their
augmentation levels (``augment_levels.yaml``), read into pydantic models.

A preset's ``sft`` (and ``base.sft``) mapping holds TRL ``SFTConfig`` fields verbatim; they are
turned into an ``SFTConfig`` in :mod:`sqlensemble.train.sft`, so every knob keeps TRL's own name,
type and help text instead of being declared again here.

>>> preset = load_preset("qwen2.5-coder-3b")
>>> preset.base_model, preset.lora.r, preset.sft["learning_rate"]
('Qwen/Qwen2.5-Coder-3B-Instruct', 512, 2e-06)
>>> [g.name for g in load_generators()]
['sqlg1_heavy_aug', 'sqlg2_moderate_aug', 'sqlg3_light_aug', 'sqlg4_no_aug']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sqlensemble.errors import format_validation
from sqlensemble.stack import PromptConfig
from sqlensemble.train.augment import AugmentLevel
from sqlensemble.train.errors import PresetError, UnknownGeneratorError
from sqlensemble.train.pretrain import PretrainConfig
from sqlensemble.train.rundir import base_dir

PACKAGE = "sqlensemble.train"
LEVELS_FILE = "augment_levels.yaml"
ZERO2_FILE = "deepspeed/zero2.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSettings(_Strict):
    """PEFT ``LoraConfig`` fields."""

    r: int = Field(gt=0)
    lora_alpha: int = Field(gt=0)
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class TokenizerSettings(_Strict):
    vocab_size: int = Field(default=4096, ge=300)
    min_frequency: int = Field(default=2, ge=1)


class ModelSettings(_Strict):
    """``Qwen2Config`` fields of a base model built from scratch."""

    hidden_size: int = Field(gt=0)
    num_hidden_layers: int = Field(gt=0)
    num_attention_heads: int = Field(gt=0)
    num_key_value_heads: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    max_position_embeddings: int = Field(default=2048, gt=0)
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class BaseBuildSettings(_Strict):
    """A base model built here (``sqlensemble train base``): tokenizer, architecture, pretraining."""

    tokenizer: TokenizerSettings = TokenizerSettings()
    model: ModelSettings
    level: str = Field(default="none", description="augmentation level of the base's dataset (base.jsonl)")
    seed: int = 0
    train: PretrainConfig = PretrainConfig()


SELECTOR_NAME = "selector"  # RUN/adapters/selector, RUN/merged/selector, its manifest entry's name


class SelectorSettings(_Strict):
    """The selection model (``sqlensemble train selector``): its data pass over the training questions,
    run through the gateway with the trained generators, and its LoRA fine-tune on the same base."""

    stack: Path = Field(
        description="stack file the data pass serves (its databases become the training split's)"
    )
    questions: int = Field(default=400, gt=0, description="training questions asked (a seeded subset)")
    seed: int = 0
    n: int | None = Field(default=None, gt=0, description="samples per generator (default: the stack's)")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="default: the stack's")
    permutations: int = Field(
        default=2, ge=1, le=8, description="examples per kept question, each with its own group order"
    )
    concurrency: int = Field(default=8, gt=0, description="questions in flight during the data pass")
    lora: LoraSettings | None = Field(default=None, description="PEFT settings; default: the preset's lora")
    sft: dict[str, Any] = Field(default_factory=dict, description="SFTConfig fields over the preset's sft")


class Preset(_Strict):
    name: str
    base_model: str | None = Field(
        default=None, description="HF id or path; None: built by `train base` in RUN/base"
    )
    torch_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: Literal["auto", "eager", "sdpa", "flash_attention_2"] | None = Field(
        default=None,
        description="transformers' attention kernel; auto: flash_attention_2 when flash-attn is "
        "installed and a GPU is visible, else sdpa; None leaves transformers' default",
    )
    threads: int | None = Field(
        default=None, gt=0, description="torch.set_num_threads; None leaves torch's default"
    )
    prompt: PromptConfig = PromptConfig()
    generator_prompts: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="per generator, prompt fields that differ from `prompt` (e.g. another schema style)",
    )
    base: BaseBuildSettings | None = None
    lora: LoraSettings
    sft: dict[str, Any] = Field(default_factory=dict, description="TRL SFTConfig fields")
    selector: SelectorSettings | None = Field(default=None, description="the selection model, if trained")

    @model_validator(mode="after")
    def _check_generator_prompts(self) -> Preset:
        for name in self.generator_prompts:
            self.prompt_for(name)
        return self

    def prompt_for(self, generator: str) -> PromptConfig:
        """The prompt one generator is trained (and must be served) with: ``prompt`` plus its overrides.

        >>> lora = {"r": 4, "lora_alpha": 8}
        >>> p = Preset(name="p", lora=lora, generator_prompts={"g2": {"max_examples": 0}})
        >>> p.prompt_for("g1").max_examples, p.prompt_for("g2").max_examples
        (None, 0)
        """
        override = self.generator_prompts.get(generator)
        if not override:
            return self.prompt
        return PromptConfig.model_validate({**self.prompt.model_dump(), **override})

    def for_selector(self) -> tuple[Preset, GeneratorSpec]:
        """This preset as the selector's fine-tune sees it (its ``lora``, the preset's ``sft`` with the
        selector's fields over it) and the selector as a training spec; :class:`PresetError` without one.

        >>> lora = {"r": 4, "lora_alpha": 8}
        >>> p = Preset(name="p", lora=lora, sft={"max_steps": 9, "learning_rate": 0.1},
        ...            selector={"stack": "s.yaml", "sft": {"max_steps": 3}, "seed": 7})
        >>> tuned, spec = p.for_selector()
        >>> tuned.sft, tuned.lora.r, spec.name, spec.seed
        ({'max_steps': 3, 'learning_rate': 0.1}, 4, 'selector', 7)
        """
        if self.selector is None:
            raise PresetError(f"preset {self.name!r} has no selector section")
        tuned = self.model_copy(
            update={"lora": self.selector.lora or self.lora, "sft": {**self.sft, **self.selector.sft}}
        )
        return tuned, GeneratorSpec(name=SELECTOR_NAME, level="none", seed=self.selector.seed)

    def base_model_for(self, run: Path) -> str:
        """The base model's HF id or absolute path for a run folder."""
        return self.base_model if self.base_model is not None else str(base_dir(run).resolve())


class GeneratorSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    level: str
    seed: int


class LevelsFile(_Strict):
    levels: dict[str, dict[str, Any]]
    generators: list[GeneratorSpec]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise PresetError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise PresetError(f"{path}: expected a mapping at the top level")
    return data


def packaged(relative: str) -> Path:
    """A data file shipped in the ``sqlensemble.train`` package."""
    return Path(str(resources.files(PACKAGE).joinpath(relative)))


def preset_names() -> list[str]:
    return sorted(p.stem for p in packaged("presets").glob("*.yaml"))


def load_preset(name_or_path: str) -> Preset:
    """A packaged preset by name (``cpu-tiny``) or a YAML file by path; :class:`PresetError` otherwise."""
    path = Path(name_or_path)
    if not (path.suffix in {".yaml", ".yml"} and path.is_file()):
        path = packaged(f"presets/{name_or_path}.yaml")
        if not path.is_file():
            raise PresetError(f"unknown preset {name_or_path!r}; known: {', '.join(preset_names())}")
    data = _read_yaml(path)
    try:
        preset = Preset.model_validate(data)
    except ValidationError as e:
        raise PresetError(f"preset {path}: {format_validation(e.errors(), limit=1)}") from e
    known = [g.name for g in load_generators()]
    unknown = sorted(set(preset.generator_prompts) - set(known))
    if unknown:
        raise PresetError(
            f"preset {path}: generator_prompts names unknown generator(s) {', '.join(unknown)}; "
            f"known: {', '.join(known)}"
        )
    return preset


def _levels_file() -> LevelsFile:
    path = packaged(LEVELS_FILE)
    try:
        return LevelsFile.model_validate(_read_yaml(path))
    except ValidationError as e:
        raise PresetError(f"{path}: {format_validation(e.errors(), limit=1)}") from e


def load_levels() -> dict[str, AugmentLevel]:
    """The augmentation levels by name, in the file's order."""
    levels: dict[str, AugmentLevel] = {}
    for name, values in _levels_file().levels.items():
        try:
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
            levels[name] = AugmentLevel(name=name, **fields)
        except TypeError as e:
            raise PresetError(f"{LEVELS_FILE}: level {name!r}: {e}") from e
    return levels


def load_generators() -> list[GeneratorSpec]:
    """The generators, each checked to name a known level."""
    file = _levels_file()
    for spec in file.generators:
        if spec.level not in file.levels:
            raise PresetError(f"{LEVELS_FILE}: generator {spec.name!r} names unknown level {spec.level!r}")
    return list(file.generators)


def find_generator(name: str) -> GeneratorSpec:
    """The generator called ``name``; :class:`UnknownGeneratorError` lists the known ones."""
    specs = load_generators()
    for spec in specs:
        if spec.name == name:
            return spec
    raise UnknownGeneratorError(name, [s.name for s in specs])
