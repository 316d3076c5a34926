"""Merging a generator's LoRA adapter into its base model: a standalone model for any server.

    sqlensemble train merge --preset cpu-tiny --generator sqlg1_heavy_aug --run runs/cpu-tiny

PEFT's ``merge_and_unload`` on ``RUN/adapters/<name>/checkpoint-final``, saved with the tokenizer, its
chat template and the base's generation config to ``RUN/merged/<name>`` (written to a temporary folder
first, so an interrupted merge never leaves a half-written model behind).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlensemble.train.config import GeneratorSpec, Preset
from sqlensemble.train.errors import MissingInputError
from sqlensemble.train.rundir import adapter_done, final_adapter, merged_dir
from sqlensemble.train.sft import check_base_model, set_threads, torch_dtype


def merge_generator(preset: Preset, spec: GeneratorSpec, run: Path, base_model: str | None = None) -> Path:
    """Merge the final adapter into the base; returns ``RUN/merged/<name>``."""
    adapter = final_adapter(run, spec.name)
    if not adapter_done(run, spec.name):
        raise MissingInputError(f"no final adapter at {adapter} (run `sqlensemble train sft` first)")
    base = base_model or preset.base_model_for(run)
    check_base_model(base)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    set_threads(preset)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype(preset.torch_dtype))
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    out = merged_dir(run, spec.name)
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    merged.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out
