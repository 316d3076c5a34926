"""Writing ``RUN/generators.yaml``: what training produced, in the form serving reads.

The models and the reader live in the core (:mod:`sqlensemble.manifest`); this module builds the
manifest from what exists in a run folder (:mod:`sqlensemble.train.rundir`) and writes it atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from sqlensemble.manifest import Manifest, ManifestGenerator
from sqlensemble.train.checksums import model_digest, tokenizer_digest
from sqlensemble.train.config import GeneratorSpec, Preset
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


def build_manifest(preset: Preset, run: Path, generators: Sequence[GeneratorSpec]) -> Manifest:
    """The manifest of what exists under ``run`` now, each generator with the preset's prompt settings."""
    entries = []
    for spec in generators:
        if not adapter_done(run, spec.name):
            continue
        merged = merged_dir(run, spec.name)
        entries.append(
            ManifestGenerator(
                name=spec.name,
                level=spec.level,
                adapter_path=str(final_adapter(run, spec.name).resolve()),
                merged_path=str(merged.resolve()) if merged_done(run, spec.name) else None,
                lora_rank=preset.lora.r,
                lora_alpha=preset.lora.lora_alpha,
                prompt=preset.prompt_for(spec.name),
                adapter_sha256=_cached(final_adapter(run, spec.name), "model"),
                merged_sha256=_cached(merged, "model") if merged_done(run, spec.name) else None,
            )
        )
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
