"""Where a served checkpoint comes from: a model hub id or a folder on this host.

A stack file may name checkpoints directly (``serve.models``: served name -> source) instead of a
training run's manifest. A source is read by its spelling, never by looking at the disk, so a stack
file means the same thing on every host:

- a **local path** starts with ``/``, ``./``, ``../`` or ``~`` (relative ones resolve against the
  working directory, like every path of a stack file);
- a **hub id** is ``owner/name`` (Hugging Face, or ModelScope for ``sqlensemble download --source
  modelscope``), e.g. ``XGenerationLab/XiYanSQL-QwenCoder-3B-2504``.

``sqlensemble download`` stores a hub id under ``DIR/owner/name`` (:func:`download_dir`) and can
rewrite a stack file's hub ids to those folders (:func:`with_local_models`).

>>> model_source("XGenerationLab/XiYanSQL-QwenCoder-7B-2504"), model_source("./models/x")
('hub', 'path')
>>> str(download_dir("XGenerationLab/XiYanSQL-QwenCoder-3B-2504", Path("models")))
'models/XGenerationLab/XiYanSQL-QwenCoder-3B-2504'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

Source = Literal["hub", "path"]
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
LOCAL_PREFIXES = ("/", "./", "../", "~")


def model_source(value: str) -> Source:
    """``"path"`` for a local folder, ``"hub"`` for an ``owner/name`` id; ValueError for anything else.

    >>> model_source("/srv/models/xiyan-3b"), model_source("~/m"), model_source("Qwen/Qwen2.5-Coder-3B")
    ('path', 'path', 'hub')
    >>> model_source("models/a/b")
    Traceback (most recent call last):
    ...
    ValueError: 'models/a/b' is neither a hub id (owner/name) nor a local path (starting with /, ./, ../ or ~)
    """
    if value.startswith(LOCAL_PREFIXES) or value in {".", ".."}:
        return "path"
    if HUB_ID.fullmatch(value) and ".." not in value.split("/"):
        return "hub"
    raise ValueError(
        f"{value!r} is neither a hub id (owner/name) nor a local path (starting with /, ./, ../ or ~)"
    )


def local_path(value: str) -> Path:
    """A local source as a path (``~`` expanded).

    >>> local_path("~/m") == Path.home() / "m"
    True
    """
    return Path(value).expanduser()


def download_dir(hub_id: str, to: Path) -> Path:
    """The folder ``sqlensemble download --to TO`` puts a hub id's snapshot in: ``TO/owner/name``."""
    owner, name = hub_id.split("/", 1)
    return to / owner / name


def as_stack_path(path: Path) -> str:
    """How a stack file names a local folder: absolute stays absolute, a relative one gets ``./``.

    >>> as_stack_path(Path("models/X/y")), as_stack_path(Path("/srv/X/y"))
    ('./models/X/y', '/srv/X/y')
    """
    return str(path) if path.is_absolute() else f"./{path}"


def with_local_models(data: Mapping[str, Any], to: Path) -> dict[str, Any]:
    """A copy of a stack mapping whose ``serve.models`` hub ids point at their download folders.

    Local paths and every other key stay as they are.

    >>> stack = {"serve": {"mode": "merged", "models": {"a": "O/A", "b": "/srv/b"}}}
    >>> with_local_models(stack, Path("models"))["serve"]["models"]
    {'a': './models/O/A', 'b': '/srv/b'}
    >>> stack["serve"]["models"]["a"]
    'O/A'
    """
    serve = dict(data.get("serve") or {})
    models = dict(serve.get("models") or {})
    serve["models"] = {
        name: as_stack_path(download_dir(src, to)) if model_source(src) == "hub" else src
        for name, src in models.items()
    }
    return {**data, "serve": serve}
