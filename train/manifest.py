"""Writing ``RUN/generators.yaml``: what training produced, in the form serving reads.

The models and the reader live in the core (:mod:`sqlensemble.manifest`); this module builds the
manifest from what exists in a run folder (:mod:`sqlensemble.train.rundir`) and writes it atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from sqlensemble.manifest import Manifest, ManifestGenerator, Role
from sqlensemble.stack import PromptConfig
from sqlensemble.train.checksums import model_digest, tokenizer_digest
from sqlensemble.train.config import SELECTOR_NAME, GeneratorSpec, LoraSettings, Preset
from sqlensemble.train.rundir import (
    adapter_done,
    base_dir,
    final_adapter,
    manifest_path,
    merged_dir,
    merged_done,
)

_digests: dict[tuple[str, tuple[tuple[str, int, int], ...], str], str] = {}


def _cached(folder: Path, kind: str) -> str:
    """A folder's digest, computed again only when one of its files changed (``all`` rewrites the
    manifest after every generator; a 3B base is not hashed four times)."""
    stamp = tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()
    )
    key = (str(folder.resolve()), stamp, kind)
    if key not in _digests:
        _digests[key] = tokenizer_digest(folder) if kind == "tokenizer" else model_digest(folder)
    return _digests[key]


def _entry(
    spec: GeneratorSpec, run: Path, lora: LoraSettings, prompt: PromptConfig, role: Role
) -> ManifestGenerator:
    merged = merged_dir(run, spec.name)
    return ManifestGenerator(
        name=spec.name,
        role=role,
        level=spec.level,
        adapter_path=str(final_adapter(run, spec.name).resolve()),
        merged_path=str(merged.resolve()) if merged_done(run, spec.name) else None,
        lora_rank=lora.r,
        lora_alpha=lora.lora_alpha,
        prompt=prompt,
        adapter_sha256=_cached(final_adapter(run, spec.name), "model"),
        merged_sha256=_cached(merged, "model") if merged_done(run, spec.name) else None,
    )


def build_manifest(preset: Preset, run: Path, generators: Sequence[GeneratorSpec]) -> Manifest:
    """The manifest of what exists under ``run`` now, each generator with the preset's prompt settings,
    and the selector (role ``selector``, the preset's prompt) once it is trained."""
    entries = [
        _entry(spec, run, preset.lora, preset.prompt_for(spec.name), "generator")
        for spec in generators
        if adapter_done(run, spec.name)
    ]
    if preset.selector is not None and adapter_done(run, SELECTOR_NAME):
        tuned, spec = preset.for_selector()
        entries.append(_entry(spec, run, tuned.lora, preset.prompt, "selector"))
    base = preset.base_model_for(run)
    own_base = preset.base_model is None and base_dir(run).is_dir()
    return Manifest(
        preset=preset.name,
        base_model=base,
        tokenizer=base,
        generators=entries,
        base_sha256=_cached(base_dir(run), "model") if own_base else None,
        tokenizer_sha256=_cached(base_dir(run), "tokenizer") if own_base else None,
    )


def write_manifest(manifest: Manifest, run: Path) -> Path:
    path = manifest_path(run)
    data = manifest.model_dump()
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=1000)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
