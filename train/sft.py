"""LoRA fine-tuning of one generator with TRL's ``SFTTrainer`` and a PEFT ``LoraConfig``.

    sqlensemble train sft --preset cpu-tiny --generator sqlg1_heavy_aug --run runs/cpu-tiny [--resume]

Reads ``RUN/datasets/<name>.jsonl`` (conversational prompt-completion, so TRL computes the loss on the
completion only), writes checkpoints and ``training.log`` to ``RUN/adapters/<name>/`` and the final
adapter, with the tokenizer, to ``RUN/adapters/<name>/checkpoint-final``. With ``report_to: tensorboard``
(in the preset's ``sft`` or ``--set report_to=tensorboard``; ``pip install -e ".[tensorboard]"``) the
event files go to ``RUN/adapters/<name>/tensorboard/``. With more than one visible
GPU the command re-runs itself through ``accelerate launch`` with DeepSpeed ZeRO-2
(``deepspeed/zero2.json``); ``--dry-run`` prints that command instead of running anything.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import os
import random
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sqlensemble.checkpoints import HUB_ID
from sqlensemble.errors import ConfigError
from sqlensemble.train.config import ZERO2_FILE, GeneratorSpec, Preset, packaged
from sqlensemble.train.errors import MissingInputError, PresetError
from sqlensemble.train.rundir import adapter_dir, dataset_path, datasets_dir, final_adapter, tensorboard_dir

T = TypeVar("T")

LOG_FILE = "training.log"
TENSORBOARD = "tensorboard"
TENSORBOARD_INSTALL = 'pip install -e ".[tensorboard]"'
TENSORBOARD_DIR_ENV = "TENSORBOARD_LOGGING_DIR"  # where transformers' TensorBoardCallback writes
DISTRIBUTED_ENV = "WORLD_SIZE"  # set by accelerate/torchrun in every launched process


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs with YAML values, for SFTConfig fields.

    >>> parse_overrides(["max_steps=4", "learning_rate=1e-3", "report_to=none"])
    {'max_steps': 4, 'learning_rate': 0.001, 'report_to': 'none'}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise PresetError(f"expected KEY=VALUE, got {item!r}")
        value = yaml.safe_load(raw)
        if isinstance(value, str) and _looks_numeric(value):
            value = float(value)
        out[key.strip()] = value
    return out


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sft_kwargs(
    fields: dict[str, Any], output_dir: Path, seed: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The ``SFTConfig`` keyword arguments: the preset's fields, then overrides, then the run's own."""
    kwargs = {"seed": seed, "data_seed": seed, **fields, **overrides}
    kwargs["output_dir"] = str(output_dir)
    return kwargs


def build_sft_config(kwargs: dict[str, Any]) -> Any:
    """TRL's own ``SFTConfig``; an unknown field or an invalid value is a :class:`PresetError`."""
    from trl import SFTConfig

    try:
        return SFTConfig(**kwargs)
    except (TypeError, ValueError) as e:
        raise PresetError(f"invalid SFTConfig: {e}") from e


def reports_to_tensorboard(report_to: Any) -> bool:
    """Whether an ``SFTConfig.report_to`` value (a name or a list of names) asks for TensorBoard.

    >>> [reports_to_tensorboard(v) for v in ("none", "tensorboard", ["tensorboard", "wandb"], None)]
    [False, True, True, False]
    """
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    return TENSORBOARD in names


def tensorboard_installed() -> bool:
    """What transformers' TensorBoardCallback needs: ``tensorboard`` (or ``tensorboardX``)."""
    return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))


def check_report_to(kwargs: dict[str, Any], *, installed: bool) -> None:
    """Refuse ``report_to: tensorboard`` without the package, before any model is loaded.

    >>> check_report_to({"report_to": "tensorboard"}, installed=True)
    >>> check_report_to({"report_to": ["tensorboard"]}, installed=False)
    Traceback (most recent call last):
    ...
    sqlensemble.errors.ConfigError: report_to: tensorboard needs the tensorboard package (pip install ...)
    """
    if reports_to_tensorboard(kwargs.get("report_to")) and not installed:
        raise ConfigError(f"report_to: tensorboard needs the tensorboard package ({TENSORBOARD_INSTALL})")


@contextlib.contextmanager
def tensorboard_logging_dir(path: Path | None) -> Iterator[None]:
    """While the trainer is built, point its TensorBoard writer at ``path`` (None: leave it)."""
    if path is None:
        yield
        return
    before = os.environ.get(TENSORBOARD_DIR_ENV)
    os.environ[TENSORBOARD_DIR_ENV] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TENSORBOARD_DIR_ENV, None)
        else:
            os.environ[TENSORBOARD_DIR_ENV] = before


# Fields whose check depends on the machine's accelerators: left to the process that trains (on a GPU
# host, under accelerate) when the config is checked elsewhere (a dry run, the launcher).
DEVICE_FIELDS: dict[str, Any] = {"bf16": False, "fp16": False, "tf32": None}


def sft_field_names() -> frozenset[str]:
    """The fields TRL's ``SFTConfig`` accepts."""
    import dataclasses

    from trl import SFTConfig

    return frozenset(f.name for f in dataclasses.fields(SFTConfig))


def unknown_sft_field(keys: Sequence[str], known: frozenset[str]) -> tuple[str, str | None] | None:
    """The first key that is not an ``SFTConfig`` field, with the closest real one (if any).

    >>> unknown_sft_field(["max_steps", "learning_rat"], frozenset({"max_steps", "learning_rate"}))
    ('learning_rat', 'learning_rate')
    >>> unknown_sft_field(["max_steps"], frozenset({"max_steps"})) is None
    True
    """
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            return key, close[0] if close else None
    return None


def check_sft_configs(
    preset: Preset,
    run: Path,
    generators: Sequence[GeneratorSpec],
    overrides: dict[str, Any],
    *,
    on_this_machine: bool,
) -> None:
    """Build every generator's ``SFTConfig`` exactly as training will, before any work starts.

    An unknown key (in ``--set`` or the preset's ``sft``) is named with the closest real field; an
    invalid value names the generator. ``on_this_machine=False`` (a dry run, or training launched on
    other processes) leaves :data:`DEVICE_FIELDS` to the processes that train.
    """
    known = sft_field_names()
    for source, keys in (("--set", list(overrides)), (f"preset {preset.name!r} sft", list(preset.sft))):
        found = unknown_sft_field(keys, known)
        if found is not None:
            key, close = found
            hint = f"; did you mean {close!r}?" if close else ""
            raise PresetError(f"unknown SFTConfig field {key!r} in {source}{hint}")
    check_report_to({**preset.sft, **overrides}, installed=tensorboard_installed())
    for spec in generators:
        kwargs = sft_kwargs(preset.sft, adapter_dir(run, spec.name), spec.seed, overrides)
        if not on_this_machine:
            kwargs.update(DEVICE_FIELDS)
        try:
            build_sft_config(kwargs)
        except PresetError as e:
            raise PresetError(f"generator {spec.name!r}: {e}") from e


def lora_config(preset: Preset) -> Any:
    from peft import LoraConfig

    settings = preset.lora
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def visible_gpus() -> int:
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def accelerate_executable() -> str:
    local = Path(sys.executable).parent / "accelerate"
    return str(local) if local.is_file() else "accelerate"


def launch_command(sft_argv: Sequence[str], num_gpus: int, bf16: bool) -> list[str]:
    """The ``accelerate launch`` command that runs this same ``sft`` on ``num_gpus`` GPUs with ZeRO-2."""
    return [
        accelerate_executable(),
        "launch",
        "--num_processes",
        str(num_gpus),
        "--num_machines",
        "1",
        "--mixed_precision",
        "bf16" if bf16 else "no",
        "--use_deepspeed",
        "--deepspeed_config_file",
        str(packaged(ZERO2_FILE).resolve()),
        "-m",
        "sqlensemble.cli",
        "train",
        "sft",
        *sft_argv,
    ]


def is_launched() -> bool:
    """Whether this process was started by a distributed launcher."""
    return int(os.environ.get(DISTRIBUTED_ENV, "1")) > 1


def format_command(command: Sequence[str]) -> str:
    return shlex.join(command)


def check_base_model(base: str) -> None:
    """Fail fast on a base model given as a local path that is not there (hub ids pass through).

    >>> check_base_model("Qwen/Qwen2.5-Coder-3B-Instruct")
    >>> check_base_model("/nonexistent/base")
    Traceback (most recent call last):
    ...
    sqlensemble.train.errors.MissingInputError: base model not found: /nonexistent/base
    """
    path = Path(base).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise MissingInputError(f"base model folder has no config.json: {path}")
        return
    if not HUB_ID.fullmatch(base):
        raise MissingInputError(f"base model not found: {base}")


def load_dataset_file(path: Path, needed: int | None = None, seed: int = 0) -> Any:
    """The dataset as a ``datasets.Dataset``; with ``needed``, a seeded random sample of that many.

    A ``max_steps`` run consumes ``needed`` examples (:func:`examples_needed`); TRL tokenizes every
    example it is given before the first step, so the CPU presets' short LoRA runs would otherwise
    spend most of their time tokenizing examples they never reach.
    """
    from datasets import Dataset

    from sqlensemble.train.assemble import read_jsonl

    if not path.is_file():
        raise MissingInputError(f"dataset not found: {path} (run `sqlensemble train assemble` first)")
    records = read_jsonl(path)
    if not records:
        raise MissingInputError(f"dataset is empty: {path}")
    return Dataset.from_list(steps_sample(records, needed, seed))


def examples_needed(config: Any) -> int | None:
    """How many examples a ``max_steps`` run consumes (None when it trains by epochs)."""
    if config.max_steps is None or config.max_steps <= 0:
        return None
    per_step = config.per_device_train_batch_size * config.gradient_accumulation_steps * config.world_size
    return int(config.max_steps * per_step)


def steps_sample(records: Sequence[T], needed: int | None, seed: int) -> list[T]:
    """``needed`` of ``records`` drawn without replacement by a seeded RNG (all of them when None).

    >>> steps_sample(list(range(10)), 3, seed=0), steps_sample([1, 2], 5, seed=0)
    ([6, 9, 0], [1, 2])
    """
    if needed is None or needed >= len(records):
        return list(records)
    return random.Random(seed).sample(list(records), needed)


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def attention_kernel(requested: str | None, *, flash_installed: bool, cuda: bool) -> str | None:
    """The ``attn_implementation`` to load the model with; ``auto`` falls back to sdpa cleanly.

    >>> attention_kernel("auto", flash_installed=True, cuda=True)
    'flash_attention_2'
    >>> attention_kernel("auto", flash_installed=False, cuda=True)
    'sdpa'
    >>> attention_kernel(None, flash_installed=True, cuda=True) is None
    True
    """
    if requested != "auto":
        return requested
    return "flash_attention_2" if flash_installed and cuda else "sdpa"


def model_load_kwargs(preset: Preset) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments: the dtype and, when the preset names one, the attention."""
    import importlib.util

    import torch

    kwargs: dict[str, Any] = {"dtype": torch_dtype(preset.torch_dtype)}
    kernel = attention_kernel(
        preset.attn_implementation,
        flash_installed=importlib.util.find_spec("flash_attn") is not None,
        cuda=torch.cuda.is_available(),
    )
    if kernel is not None:
        kwargs["attn_implementation"] = kernel
    return kwargs


def set_threads(preset: Preset) -> None:
    if preset.threads:
        import torch

        torch.set_num_threads(preset.threads)


def last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def train_generator(
    preset: Preset,
    spec: GeneratorSpec,
    run: Path,
    *,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    base_model: str | None = None,
) -> Path:
    """Fine-tune one generator's LoRA adapter; returns ``checkpoint-final``."""
    dataset_file = dataset_path(datasets_dir(run), spec.name)
    base = base_model or preset.base_model_for(run)
    check_base_model(base)
    out_dir = adapter_dir(run, spec.name)
    kwargs = sft_kwargs(preset.sft, out_dir, spec.seed, overrides or {})
    check_report_to(kwargs, installed=tensorboard_installed())
    config = build_sft_config(kwargs)
    dataset = load_dataset_file(dataset_file, examples_needed(config), config.seed)

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from sqlensemble.train.callbacks import TrainingLogCallback

    set_threads(preset)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, **model_load_kwargs(preset))
    board = tensorboard_dir(run, spec.name) if reports_to_tensorboard(config.report_to) else None
    with tensorboard_logging_dir(board):
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(preset),
            callbacks=[TrainingLogCallback(out_dir / LOG_FILE)],
        )
    checkpoint = last_checkpoint(out_dir) if resume else None
    if resume and checkpoint is None:
        print(f"note: no checkpoint in {out_dir}; training from the start", file=sys.stderr)
    trainer.train(resume_from_checkpoint=checkpoint)
    final = final_adapter(run, spec.name)
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
    return final
