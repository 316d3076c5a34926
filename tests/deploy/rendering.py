"""Offline stand-ins for `kubectl kustomize` and `docker compose config` over the files in deploy/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUSTOMIZE_KEYS = {"apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions"}


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def render_kustomization(folder: Path) -> list[dict[str, Any]]:
    """What ``kubectl kustomize FOLDER`` gives for the subset of kustomize these manifests use:
    resources (files and folders) and a ConfigMap generator without a name hash."""
    (spec,) = load_docs(folder / "kustomization.yaml")
    unknown = set(spec) - KUSTOMIZE_KEYS
    assert not unknown, f"{folder}: this renderer does not know {sorted(unknown)}; extend it or the test"
    docs: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        path = (folder / resource).resolve()
        docs += render_kustomization(path) if path.is_dir() else load_docs(path)
    generators = spec.get("configMapGenerator", [])
    if generators:
        assert spec.get("generatorOptions", {}).get("disableNameSuffixHash") is True
    for gen in generators:
        data = {}
        for entry in gen["files"]:
            key, _, rel = entry.rpartition("=")
            file = folder / rel
            data[key or file.name] = file.read_text(encoding="utf-8")
        meta = {"name": gen["name"]}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    return docs


_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}``) is unset or empty."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution over a loaded file: ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}`` and ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        if name is None:
            return "$"
        current = env.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":?", "?") and missing:
            raise InterpolationError(f"{name}: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return current or ""

    return _VAR.sub(substitute, value)


def load_compose(name: str, env: dict[str, str]) -> dict[str, Any]:
    (doc,) = load_docs(DEPLOY / "compose" / name)
    return interpolate({k: v for k, v in doc.items() if not k.startswith("x-")}, env)
