"""Checksums of trained artefacts: the same recipe on the same machine must give the same bytes.

Training is deterministic (seeded data order, augmentation and initialisation), and these digests make
that visible: ``train all`` prints them and records them in ``generators.yaml``, and
``sqlensemble train checksums --run RUN`` recomputes them, so two runs (two clones, two days) can be
compared by eye or by :func:`compare`.

A digest covers what determines a model's behaviour and nothing that names where or when it was made:
weights (``*.safetensors``), model, generation and tokenizer configs, the tokenizer itself and the chat
template. JSON files are hashed in a canonical form with path-valued keys removed (PEFT writes the base
model's absolute path into ``adapter_config.json``) and ``target_modules`` sorted (PEFT writes a set,
whose order varies between processes). Logs, trainer state and optimizer files are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlensemble.train.errors import MissingInputError

WEIGHT_SUFFIX = ".safetensors"
MODEL_FILES = frozenset({"config.json", "generation_config.json", "adapter_config.json"})
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.json",
        "merges.txt",
        "added_tokens.json",
        "chat_template.jinja",
    }
)
PATH_KEYS = frozenset({"_name_or_path", "name_or_path", "base_model_name_or_path"})
"""JSON keys that hold where something was loaded from, not what it is."""
SORTED_KEYS = frozenset({"target_modules", "modules_to_save"})


def canonical_json(data: Any) -> Any:
    """``data`` with path-valued keys removed and set-like lists sorted, recursively.

    >>> canonical_json({"base_model_name_or_path": "/tmp/a/base", "target_modules": ["v", "q"], "r": 8})
    {'r': 8, 'target_modules': ['q', 'v']}
    """
    if isinstance(data, dict):
        out = {}
        for key in sorted(data):
            if key in PATH_KEYS:
                continue
            value = data[key]
            if key in SORTED_KEYS and isinstance(value, list):
                value = sorted(value, key=str)
            out[key] = canonical_json(value)
        return out
    if isinstance(data, list):
        return [canonical_json(v) for v in data]
    return data


def _content(path: Path) -> bytes:
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return json.dumps(canonical_json(data), sort_keys=True, separators=(",", ":")).encode()
    return path.read_bytes()


def hashed_files(folder: Path, names: Iterable[str] | None = None) -> list[Path]:
    """The files of ``folder`` a digest covers (weights and configs; only ``names`` when given), sorted."""
    wanted = set(names) if names is not None else None
    files = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if wanted is not None:
            if path.name in wanted:
                files.append(path)
        elif path.suffix == WEIGHT_SUFFIX or path.name in MODEL_FILES | TOKENIZER_FILES:
            files.append(path)
    return files


def digest(folder: Path, names: Iterable[str] | None = None) -> str:
    """SHA-256 over the covered files' names and canonical contents (``sha256:<hex>``)."""
    h = hashlib.sha256()
    files = hashed_files(folder, names)
    if not files:
        raise MissingInputError(f"{folder}: no model or tokenizer files to checksum")
    for path in files:
        body = _content(path)
        h.update(f"{path.name}\0{len(body)}\0".encode())
        h.update(body)
    return f"sha256:{h.hexdigest()}"


def tokenizer_digest(folder: Path) -> str:
    """The digest of the tokenizer files alone."""
    return digest(folder, TOKENIZER_FILES)


def model_digest(folder: Path) -> str:
    """The digest of a model or adapter folder: weights, configs and any tokenizer files it holds."""
    return digest(folder)


def compare(recorded: Mapping[str, str | None], computed: Mapping[str, str | None]) -> list[str]:
    """Every artefact whose recorded and computed digests differ, as one line each.

    >>> compare({"base": "sha256:a", "g/adapter": "sha256:b"}, {"base": "sha256:a", "g/adapter": "sha256:c"})
    ['g/adapter: sha256:b, now sha256:c']
    >>> compare({"base": None}, {"base": "sha256:a"})
    ['base: not recorded, now sha256:a']
    """
    return [
        f"{name}: {recorded.get(name) or 'not recorded'}, now {computed.get(name) or 'absent'}"
        for name in sorted(set(recorded) | set(computed))
        if recorded.get(name) != computed.get(name)
    ]
