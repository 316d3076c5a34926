"""The training manifest, ``RUN/generators.yaml``, as ``serve`` reads it.

The schema is training's own (:class:`sqlensemble.train.manifest.Manifest`): base model, tokenizer, and
per generator its adapter, merged model (null until merged) and LoRA rank. This module only turns every
way of failing to read it into one :class:`ConfigError` line. Paths are not checked here: a dry run must
work on a machine that does not hold the models (an engine's log says clearly when a path is wrong).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from sqlensemble.errors import ConfigError
from sqlensemble.train.manifest import Manifest, ManifestGenerator

__all__ = ["Manifest", "ManifestGenerator", "load_manifest", "manifest_entry"]


def manifest_entry(manifest: Manifest, name: str) -> ManifestGenerator | None:
    return next((g for g in manifest.generators if g.name == name), None)


def load_manifest(path: str | Path) -> Manifest:
    """Read ``RUN/generators.yaml``; raise ConfigError when it is missing, malformed or lists nothing."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(
            f"no manifest at {str(path)!r}; train the generators first (make train-generators)"
        ) from e
    except OSError as e:
        raise ConfigError(f"cannot read manifest {str(path)!r}: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}".replace("\n", " ")) from e
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"{path}: {problems}") from e
    names = [g.name for g in manifest.generators]
    if not names:
        raise ConfigError(f"{path}: lists no generators (no adapter has finished training)")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate generator names: {', '.join(dupes)}")
    return manifest
