"""deploy/compose: every file parses and resolves, each GPU-stack generator reaching a healthy engine."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from sqlensemble.stack import StackConfig, load_stack, parse_stack

from .rendering import DEPLOY, REPO, InterpolationError, interpolate, load_compose, load_docs

ENV = {"MODELS_DIR": "/srv/runs/qwen2.5-coder-3b", "DATABASES_DIR": "/srv/bird/dev_databases"}
LAYOUTS = {"compose.yaml": "stack.compose.yaml", "compose.lora.yaml": "stack.compose.lora.yaml"}


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def gpu_of(service: dict[str, Any]) -> str:
    return str(service["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0])


def served_models(args: list[str]) -> set[str]:
    models = {flag(args, "--served-model-name")}
    if "--lora-modules" in args:
        start = args.index("--lora-modules") + 1
        end = next(i for i in range(start, len(args)) if args[i].startswith("--"))
        models |= {module.split("=", 1)[0] for module in args[start:end]}
    return models


def gpu_stack(monkeypatch: pytest.MonkeyPatch, path: Path, tmp_path: Path) -> StackConfig:
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(tmp_path))
    monkeypatch.delenv("SQLENSEMBLE_API_KEYS", raising=False)
    return load_stack(path)


def test_every_yaml_file_in_deploy_parses():
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 15
    for path in files:
        assert load_docs(path), path


@pytest.mark.parametrize("name", LAYOUTS)
def test_required_paths_must_be_set(name):
    for missing in ENV:
        env = {k: v for k, v in ENV.items() if k != missing}
        with pytest.raises(InterpolationError, match=missing):
            load_compose(name, env)
        with pytest.raises(InterpolationError, match=missing):
            load_compose(name, {**env, missing: ""})


def test_interpolation_defaults_and_escapes():
    assert interpolate(["${A:-x}", "${A-y}", "$${A}", "${B}"], {"B": "b"}) == ["x", "y", "${A}", "b"]
    assert interpolate("${A:-x}", {"A": ""}) == "x" and interpolate("${A-x}", {"A": ""}) == ""


@pytest.mark.parametrize(("name", "stack_file"), LAYOUTS.items())
def test_each_generator_reaches_a_healthy_gpu_engine(name, stack_file, monkeypatch, tmp_path):
    compose = load_compose(name, ENV)
    services: dict[str, dict[str, Any]] = compose["services"]
    engines = {n: s for n, s in services.items() if n != "gateway"}
    reference = gpu_stack(monkeypatch, REPO / "configs" / "stack.gpu-3b.yaml", tmp_path)
    stack = gpu_stack(monkeypatch, DEPLOY / "compose" / stack_file, tmp_path)

    for engine in engines.values():
        args = [str(a) for a in engine["command"]]
        assert engine["image"].startswith("vllm/vllm-openai:")
        assert engine["entrypoint"] == ["vllm", "serve"] and flag(args, "--port") == "8000"
        assert args[0].startswith("/models/")  # the model comes first, positionally (vllm serve MODEL)
        assert f"{ENV['MODELS_DIR']}:/models:ro" in engine["volumes"]
        (device,) = engine["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["device_ids"]
        check = engine["healthcheck"]
        assert "http://127.0.0.1:8000/health" in " ".join(check["test"]) and check["start_period"]

    for generator in stack.generators:  # routes point at a service that serves the model on its port
        url = urlsplit(generator.base_url)
        assert url.hostname in engines and url.port == 8000 and url.path == "/v1", generator.name
        assert generator.model in served_models([str(a) for a in engines[url.hostname]["command"]])

    assert {g.model for g in stack.generators} == {g.model for g in reference.generators}
    strip = {"base_url"}
    assert [g.model_dump(exclude=strip) for g in stack.generators] == [
        g.model_dump(exclude=strip) for g in reference.generators
    ]


@pytest.mark.parametrize(("name", "stack_file"), LAYOUTS.items())
def test_gateway_waits_for_healthy_engines_and_mounts_its_inputs(name, stack_file):
    compose = load_compose(name, ENV)
    gateway = compose["services"]["gateway"]
    engines = set(compose["services"]) - {"gateway"}
    assert gateway["depends_on"] == {e: {"condition": "service_healthy"} for e in engines}
    build = gateway["build"]
    assert build["context"] == "../.." and (REPO / build["dockerfile"]).is_file()
    assert f"./{stack_file}:/etc/sqlensemble/stack.yaml:ro" in gateway["volumes"]
    assert f"{ENV['DATABASES_DIR']}:/data/databases:ro" in gateway["volumes"]
    assert "/health" in " ".join(gateway["healthcheck"]["test"])
    assert "SQLENSEMBLE_API_KEYS" in gateway["environment"]  # passed through only when set


def test_merged_engines_take_distinct_gpus_and_start_one_at_a_time():
    services = load_compose("compose.yaml", ENV)["services"]
    engines = [n for n in services if n != "gateway"]
    assert [gpu_of(services[n]) for n in engines] == ["0", "1", "2", "3"]
    for before, after in itertools.pairwise(engines):
        assert services[after]["depends_on"] == {before: {"condition": "service_healthy"}}
    one_gpu = load_compose("compose.yaml", {**ENV, **{f"SQLG{i}_GPU": "0" for i in range(1, 5)}})["services"]
    assert {gpu_of(one_gpu[n]) for n in engines} == {"0"}


def test_lora_engine_rank_and_adapter_count():
    (engine,) = [s for n, s in load_compose("compose.lora.yaml", ENV)["services"].items() if n != "gateway"]
    args = [str(a) for a in engine["command"]]
    assert flag(args, "--max-lora-rank") in {"1", "8", "16", "32", "64", "128", "256", "320", "512"}
    assert int(flag(args, "--max-loras")) == len(served_models(args)) - 1 == 4


def _compose_client() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_client(), reason="no docker client with the compose plugin here")
@pytest.mark.parametrize("name", LAYOUTS)
def test_docker_compose_config_resolves(name):
    out = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose" / name), "config", "--format", "yaml"],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin:/usr/local/bin", **ENV},
    )  # fmt: skip
    resolved = yaml.safe_load(out.stdout)
    assert set(resolved["services"]) == set(load_compose(name, ENV)["services"])


def test_stack_files_for_containers_listen_on_all_interfaces(monkeypatch, tmp_path):
    for path in [*(DEPLOY / "compose").glob("stack.*.yaml"), *(DEPLOY / "k8s").rglob("stack.yaml")]:
        stack = parse_stack(
            {**yaml.safe_load(path.read_text()), "databases": {"root": str(tmp_path)}}, source=str(path)
        )
        assert (stack.gateway.host, stack.gateway.port) == ("0.0.0.0", 8000), path
        assert yaml.safe_load(path.read_text())["databases"]["root"] == "/data/databases"
