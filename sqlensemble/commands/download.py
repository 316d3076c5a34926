"""Download model checkpoints for a host without network, and point a stack file at the copies.

    sqlensemble download XGenerationLab/XiYanSQL-QwenCoder-3B-2504 --to models
    sqlensemble download --from-stack configs/stack.xiyan-released.yaml --to models \\
        --write-stack configs/stack.xiyan-local.yaml
    sqlensemble download --from-stack configs/stack.xiyan-released.yaml --to models --dry-run

Each hub id lands in ``DIR/owner/name`` as a plain folder (``huggingface_hub.snapshot_download`` with
``local_dir``, or ModelScope's with ``--source modelscope`` when ``modelscope`` is installed); a
download that stopped resumes when run again. ``--from-stack`` takes every hub id in the stack's
``serve.models``; ``--write-stack OUT`` then writes a copy of that stack whose ``serve.models`` name the
local folders (comments are not kept). ``--dry-run`` prints what would be downloaded and where, and
imports no download library.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any, Literal

import yaml

from sqlensemble.checkpoints import as_stack_path, download_dir, model_source, with_local_models
from sqlensemble.errors import ConfigError, DownloadError, SqlEnsembleError
from sqlensemble.stack import load_stack

PROG = "sqlensemble download"
Hub = Literal["huggingface", "modelscope"]
HUBS: tuple[str, ...] = ("huggingface", "modelscope")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Download checkpoints into plain folders, for hosts without network."
    )
    parser.add_argument("models", nargs="*", metavar="HUB_ID", help="owner/name ids to download")
    parser.add_argument(
        "--from-stack", type=Path, metavar="FILE", help="also download every hub id in FILE's serve.models"
    )
    parser.add_argument("--to", type=Path, default=Path("models"), metavar="DIR",
                        help="where the folders go: DIR/owner/name (default: models)")  # fmt: skip
    parser.add_argument("--source", choices=HUBS, default="huggingface", help="which hub to fetch from")
    parser.add_argument("--revision", default=None, help="a branch, tag or commit (default: the main one)")
    parser.add_argument(
        "--write-stack", type=Path, metavar="OUT", help="write --from-stack's file with local paths to OUT"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be downloaded and where; fetch nothing"
    )
    return parser


def hub_ids(models: list[str], stack_models: dict[str, str]) -> list[str]:
    """The hub ids to fetch, each once, in the order given: the command line's, then the stack's.

    >>> hub_ids(["O/a"], {"x": "O/b", "y": "/srv/c", "z": "O/a"})
    ['O/a', 'O/b']
    >>> hub_ids(["./m"], {})
    Traceback (most recent call last):
    ...
    sqlensemble.errors.ConfigError: './m' is a local path, not a hub id (owner/name)
    """
    for value in models:
        try:
            kind = model_source(value)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if kind == "path":
            raise ConfigError(f"{value!r} is a local path, not a hub id (owner/name)")
    from_stack = [v for v in stack_models.values() if model_source(v) == "hub"]
    return list(dict.fromkeys([*models, *from_stack]))


def suggested_models(ids: list[str], stack_models: dict[str, str], to: Path) -> dict[str, str]:
    """``serve.models`` entries for the downloaded ids: the stack's served names where it has them,
    else the repository's name.

    >>> suggested_models(["O/A", "O/B"], {"a": "O/A"}, Path("m"))
    {'a': './m/O/A', 'B': './m/O/B'}
    """
    names = {source: name for name, source in stack_models.items()}
    return {names.get(i, i.split("/", 1)[1]): as_stack_path(download_dir(i, to)) for i in ids}


def fetch(hub_id: str, dest: Path, source: Hub, revision: str | None) -> None:
    """Download one snapshot into ``dest``; any failure is one :class:`DownloadError` line."""
    if source == "modelscope":
        from modelscope import snapshot_download as modelscope_download

        try:
            modelscope_download(hub_id, revision=revision, local_dir=str(dest))
        except (OSError, ValueError) as e:  # requests' errors are OSErrors
            raise DownloadError(f"{hub_id} from modelscope: {e}") from e
        return
    import httpx
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    try:
        snapshot_download(repo_id=hub_id, revision=revision, local_dir=dest)
    except (HfHubHTTPError, LocalEntryNotFoundError, HFValidationError, httpx.HTTPError, OSError) as e:
        raise DownloadError(f"{hub_id} from huggingface: {str(e).splitlines()[0] if str(e) else e!r}") from e


def write_local_stack(stack_file: Path, to: Path, out: Path) -> dict[str, str]:
    """Write ``stack_file`` to ``out`` with its hub ids replaced by their folders under ``to``; the copy
    is validated as a stack before this returns its ``serve.models``."""
    data: dict[str, Any] = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    local = with_local_models(data, to)
    header = f"# Written by `sqlensemble download` from {stack_file}: serve.models name local folders.\n"
    try:
        out.write_text(header + yaml.safe_dump(local, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write {str(out)!r}: {e.strerror or e}") from e
    written = load_stack(out, check_paths=False)
    assert written.serve is not None
    return dict(written.serve.models)


def _stack_models(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    stack = load_stack(path, check_paths=False)
    if stack.serve is None or not stack.serve.models:
        raise ConfigError(f"{path}: names no checkpoints in serve.models (nothing to download)")
    return dict(stack.serve.models)


def run(args: argparse.Namespace) -> int:
    if args.write_stack is not None and args.from_stack is None:
        raise ConfigError("--write-stack needs --from-stack (the stack file to copy)")
    stack_models = _stack_models(args.from_stack)
    ids = hub_ids(args.models, stack_models)
    if not ids:
        raise ConfigError("nothing to download: give HUB_ID arguments or --from-stack with hub ids")
    planned = [(hub_id, download_dir(hub_id, args.to)) for hub_id in ids]
    if args.dry_run:
        for hub_id, dest in planned:
            print(f"would download {hub_id} from {args.source} to {dest}")
        if args.write_stack is not None:
            print(f"would write {args.write_stack} with serve.models pointing at those folders")
        return 0
    if args.source == "modelscope" and importlib.util.find_spec("modelscope") is None:
        raise ConfigError("--source modelscope needs the modelscope package (pip install modelscope)")
    for hub_id, dest in planned:
        print(f"downloading {hub_id} from {args.source} to {dest}", file=sys.stderr)
        fetch(hub_id, dest, args.source, args.revision)
    for hub_id, dest in planned:
        print(f"{hub_id}: {dest}")
    if args.write_stack is not None:
        write_local_stack(args.from_stack, args.to, args.write_stack)
        print(f"wrote {args.write_stack}; serve it with: sqlensemble serve --config {args.write_stack}")
        return 0
    print("point the stack file's serve.models at the folders:\n  serve:\n    models:")
    for name, path in suggested_models(ids, stack_models, args.to).items():
        print(f"      {name}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return run(args)
    except SqlEnsembleError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1


if __name__ == "__main__":
    raise SystemExit(main())
