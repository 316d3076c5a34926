"""``RUN/generators.yaml``: what training produced, in the form serving reads.

.. code-block:: yaml

    preset: cpu-tiny
    base_model: /abs/runs/cpu-tiny/base          # an HF id for hub presets
    tokenizer: /abs/runs/cpu-tiny/base
    generators:
      - {name: sqlg1_heavy_aug, level: heavy, adapter_path: /abs/.../checkpoint-final,
         merged_path: /abs/.../merged/sqlg1_heavy_aug, lora_rank: 16, lora_alpha: 32}

A generator is listed once its final adapter exists; ``merged_path`` is null until it is merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from sqlensemble.train.config import GeneratorSpec, Preset
from sqlensemble.train.errors import MissingInputError
from sqlensemble.train.merge import merged_dir
from sqlensemble.train.sft import final_adapter

MANIFEST_FILE = "generators.yaml"


class ManifestGenerator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    level: str
    adapter_path: str
    merged_path: str | None
    lora_rank: int
    lora_alpha: int


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str
    base_model: str
    tokenizer: str
    generators: list[ManifestGenerator]


def manifest_path(run: Path) -> Path:
    return run / MANIFEST_FILE


def build_manifest(preset: Preset, run: Path, generators: Sequence[GeneratorSpec]) -> Manifest:
    """The manifest of what exists under ``run`` now."""
    entries = []
    for spec in generators:
        adapter = final_adapter(run, spec.name)
        if not (adapter / "adapter_config.json").is_file():
            continue
        merged = merged_dir(run, spec.name)
        entries.append(
            ManifestGenerator(
                name=spec.name,
                level=spec.level,
                adapter_path=str(adapter.resolve()),
                merged_path=str(merged.resolve()) if (merged / "config.json").is_file() else None,
                lora_rank=preset.lora.r,
                lora_alpha=preset.lora.lora_alpha,
            )
        )
    base = preset.base_model_for(run)
    return Manifest(preset=preset.name, base_model=base, tokenizer=base, generators=entries)


def write_manifest(manifest: Manifest, run: Path) -> Path:
    path = manifest_path(run)
    data = manifest.model_dump()
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=1000)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as e:
        raise MissingInputError(f"cannot read manifest {path}: {e}") from e
