"""The training manifest, ``RUN/generators.yaml``: training writes it, serving and the gateway read it.

.. code-block:: yaml

    preset: cpu-tiny
    base_model: /abs/runs/cpu-tiny/base          # an HF id for hub presets
    tokenizer: /abs/runs/cpu-tiny/base
    generators:
      - {name: sqlg1_heavy_aug, level: heavy, adapter_path: /abs/.../checkpoint-final,
         merged_path: /abs/.../merged/sqlg1_heavy_aug, lora_rank: 16, lora_alpha: 32,
         prompt: {template: xiyan_zh, dialect: SQLite, schema_style: mschema, max_examples: 0},
         adapter_sha256: "sha256:...", merged_sha256: "sha256:..."}
      - {name: selector, role: selector, level: none, ...}   # the selection model, when trained
    base_sha256: "sha256:..."                    # null for a hub base model
    tokenizer_sha256: "sha256:..."

A generator is listed once its final adapter exists; ``merged_path`` is null until it is merged;
``prompt`` is how its training prompts were rendered, which a stack file must repeat
(:func:`check_prompts`). :func:`sqlensemble.train.manifest.build_manifest` writes the file;
:func:`load_manifest` turns every way of failing to read it into one :class:`ConfigError` line. Paths
are not checked here: a dry run must work on a machine that does not hold the models (an engine's log
says clearly when a path is wrong).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from sqlensemble.errors import ConfigError, format_validation
from sqlensemble.stack import PromptConfig, StackConfig

# Where a run folder keeps what the manifest points at (``sqlensemble.train.rundir`` builds its paths from
# these; a dry run plans with them before training has run).
BASE_DIR = "base"
ADAPTERS_DIR = "adapters"
FINAL_CHECKPOINT = "checkpoint-final"
MERGED_DIR = "merged"


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")


Role = Literal["generator", "selector"]  # selector: picks among the vote's groups (sqlensemble.selection)


class ManifestGenerator(_Manifest):
    name: str
    role: Role = "generator"
    level: str
    adapter_path: str
    merged_path: str | None
    lora_rank: int
    lora_alpha: int
    prompt: PromptConfig
    adapter_sha256: str | None = None
    merged_sha256: str | None = None


class Manifest(_Manifest):
    preset: str
    base_model: str
    tokenizer: str
    generators: list[ManifestGenerator]
    base_sha256: str | None = None  # null for a hub base model, which its hub revision identifies
    tokenizer_sha256: str | None = None

    def checksums(self) -> dict[str, str | None]:
        """Every recorded artefact digest by name: ``tokenizer``, ``base``, ``<generator>/adapter|merged``."""
        out: dict[str, str | None] = {"tokenizer": self.tokenizer_sha256, "base": self.base_sha256}
        for g in self.generators:
            out[f"{g.name}/adapter"] = g.adapter_sha256
            out[f"{g.name}/merged"] = g.merged_sha256
        return out


def planned_manifest(stack: StackConfig) -> Manifest:
    """What training will write at ``serve.manifest``, for a dry run on a host that has no models yet.

    Merged mode only: the paths follow the run folder's layout (``RUN/merged/<name>``); LoRA mode needs
    each adapter's rank, which only the real manifest knows (the ranks here are 0). With
    ``selection.mode: model`` the selection model is planned too, as the entry of role ``selector``.
    """
    if stack.serve is None:
        raise ConfigError("the stack file has no serve: section")
    run = Path(stack.serve.manifest).parent
    planned: dict[str, tuple[Role, PromptConfig]] = {
        g.model: ("generator", g.prompt) for g in stack.generators
    }
    selection = stack.selection
    if selection.mode == "model":
        planned.setdefault(selection.model, ("selector", selection.prompt))
    generators = [
        ManifestGenerator(
            name=name,
            role=role,
            level="planned",
            adapter_path=str(run / ADAPTERS_DIR / name / FINAL_CHECKPOINT),
            merged_path=str(run / MERGED_DIR / name),
            lora_rank=0,
            lora_alpha=0,
            prompt=prompt,
        )
        for name, (role, prompt) in planned.items()
    ]
    return Manifest(preset="planned", base_model=str(run / BASE_DIR), tokenizer="", generators=generators)


def released_manifest(stack: StackConfig) -> Manifest:
    """The manifest of a stack that names its checkpoints in ``serve.models`` (no training run).

    Each served name is a merged model at its hub id or local path; its prompt is the one the stack's
    generators send it (a released checkpoint has no training record here to compare against). With
    ``selection.mode: model`` the selection model must be one of them; its entry has role ``selector``.
    """
    if stack.serve is None or not stack.serve.models:
        raise ConfigError("the stack file names no checkpoints in serve.models")
    prompts = {g.model: g.prompt for g in stack.generators}
    selection = stack.selection
    selector = selection.model if selection.mode == "model" else None
    if selector is not None and selector not in stack.serve.models:
        known = ", ".join(stack.serve.models)
        raise ConfigError(
            f"serve.models has no checkpoint for the selection model {selector!r} (it has: {known})"
        )
    if selector is not None:
        prompts.setdefault(selector, selection.prompt)
    generators = [
        ManifestGenerator(
            name=name,
            role="selector" if name == selector else "generator",
            level="released",
            adapter_path="",
            merged_path=source,
            lora_rank=0,
            lora_alpha=0,
            prompt=prompts.get(name, PromptConfig()),
        )
        for name, source in stack.serve.models.items()
    ]
    return Manifest(preset="released", base_model="", tokenizer="", generators=generators)


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
        hint = ""
        if any(err["loc"][-1:] == ("prompt",) and err["type"] == "missing" for err in e.errors()):
            hint = " (written before manifests recorded prompts; `sqlensemble train all` rewrites it)"
        raise ConfigError(f"{path}: {format_validation(e.errors())}{hint}") from e
    names = [g.name for g in manifest.generators]
    if not names:
        raise ConfigError(f"{path}: lists no generators (no adapter has finished training)")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate generator names: {', '.join(dupes)}")
    return manifest


def prompt_mismatches(stack: StackConfig, manifest: Manifest) -> list[str]:
    """Every prompt field a stack generator, or the selection (``mode: model``), sets differently from
    how its model was trained.

    A stack generator is matched to the manifest entry its ``model`` names, the selection to the entry of
    ``selection.model``; models the manifest does not list (a lora engine's bare base model) were not
    trained here and are not compared.
    """
    sent = [(f"generator {g.name!r}", g.model, g.prompt) for g in stack.generators]
    if stack.selection.mode == "model":
        sent.append(("selection", stack.selection.model, stack.selection.prompt))
    problems = []
    for who, model, prompt in sent:
        entry = manifest_entry(manifest, model)
        if entry is None:
            continue
        for field in PromptConfig.model_fields:
            value, trained = getattr(prompt, field), getattr(entry.prompt, field)
            if value != trained:
                problems.append(
                    f"{who}: prompt.{field} is {value!r} but model {entry.name!r} "
                    f"was trained with {trained!r}"
                )
    return problems


def check_prompts(stack: StackConfig, manifest: Manifest, *, source: str = "stack") -> None:
    """Raise one ConfigError naming every generator (and the selection) and field whose prompt differs
    from training's."""
    problems = prompt_mismatches(stack, manifest)
    if problems:
        raise ConfigError(f"{source}: {'; '.join(problems)}")
