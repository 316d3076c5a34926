"""deploy/k8s: both overlays render, validate against the Kubernetes API schemas (offline), and route every
generator of configs/stack.gpu-3b.yaml to an engine with probes and GPU resources."""

from __future__ import annotations

import copy
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from sqlensemble.stack import StackConfig, load_stack, parse_stack

from .rendering import DEPLOY, REPO

KUBERNETES_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def stack_in_configmap(docs: list[dict[str, Any]], tmp_path) -> StackConfig:
    data = yaml.safe_load(by_kind(docs, "ConfigMap")["sqlensemble-stack"]["data"]["stack.yaml"])
    return parse_stack({**data, "databases": {"root": str(tmp_path)}}, source="configmap")


def served_models(args: list[str]) -> set[str]:
    models = {args[args.index("--served-model-name") + 1]}
    if "--lora-modules" in args:
        start = args.index("--lora-modules") + 1
        end = next(i for i in range(start, len(args)) if args[i].startswith("--"))
        models |= {module.split("=", 1)[0] for module in args[start:end]}
    return models


def selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_the_api_schemas(rendered, version):
    kinds = {d["kind"] for d in rendered}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"} <= kinds
    for doc in rendered:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest(rendered):
    broken = copy.deepcopy(by_kind(rendered, "Deployment")["sqlensemble-gateway"])
    container(broken)["readinesProbe"] = container(broken).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_names_are_unique(rendered):
    keys = [(d["kind"], d["metadata"]["name"]) for d in rendered]
    assert len(keys) == len(set(keys))


def test_every_gpu_stack_generator_has_a_probed_gpu_engine(rendered, monkeypatch, tmp_path):
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(tmp_path))
    reference = load_stack(REPO / "configs" / "stack.gpu-3b.yaml")
    stack = stack_in_configmap(rendered, tmp_path)
    deployments, services = by_kind(rendered, "Deployment"), by_kind(rendered, "Service")
    claims = by_kind(rendered, "PersistentVolumeClaim")

    assert [g.model_dump(exclude={"base_url"}) for g in stack.generators] == [
        g.model_dump(exclude={"base_url"}) for g in reference.generators
    ]
    for generator in reference.generators:
        route = urlsplit(stack.generator(generator.name).base_url)  # type: ignore[union-attr]
        service = services[route.hostname]
        assert route.path == "/v1" and route.port in {p["port"] for p in service["spec"]["ports"]}
        (engine,) = [d for d in deployments.values() if selects(service["spec"]["selector"], d)]
        main = container(engine)
        assert generator.model in served_models(main["args"])
        port_names = {p["name"]: p["containerPort"] for p in main["ports"]}
        assert port_names["http"] == int(main["args"][main["args"].index("--port") + 1])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
        resources = main["resources"]
        assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] >= 1
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        volumes = {v["name"]: v for v in engine["spec"]["template"]["spec"]["volumes"]}
        assert volumes["models"]["persistentVolumeClaim"]["claimName"] in claims
        assert {"name": "models", "mountPath": "/models", "readOnly": True} in main["volumeMounts"]


def test_layout_switch(rendered, layout):
    deployments = by_kind(rendered, "Deployment")
    engines = [d for name, d in deployments.items() if name != "sqlensemble-gateway"]
    assert len(engines) == (4 if layout == "merged" else 1)
    if layout == "lora":
        args = container(engines[0])["args"]
        assert "--enable-lora" in args and args[args.index("--max-loras") + 1] == "4"


def test_gateway_deployment_service_hpa_pdb(rendered):
    gateway = by_kind(rendered, "Deployment")["sqlensemble-gateway"]
    pod = gateway["spec"]["template"]["spec"]
    main = container(gateway)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert main["readinessProbe"]["httpGet"]["path"] == "/health"
    assert main["livenessProbe"]["httpGet"]["path"] == "/health"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["stack"]["configMap"]["name"] in by_kind(rendered, "ConfigMap")
    claims = by_kind(rendered, "PersistentVolumeClaim")
    assert volumes["databases"]["persistentVolumeClaim"]["claimName"] in claims
    assert main["args"] == ["--config", "/etc/sqlensemble/stack.yaml"]
    assert {"name": "stack", "mountPath": "/etc/sqlensemble", "readOnly": True} in main["volumeMounts"]
    assert selects(by_kind(rendered, "Service")["sqlensemble-gateway"]["spec"]["selector"], gateway)
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")["sqlensemble-gateway"]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sqlensemble-gateway"}
    assert hpa["spec"]["scaleTargetRef"] == target
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = by_kind(rendered, "PodDisruptionBudget")["sqlensemble-gateway"]
    assert selects(pdb["spec"]["selector"]["matchLabels"], gateway)
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
def test_kubectl_kustomize_renders_the_same(rendered, layout):
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "k8s" / "overlays" / layout)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    theirs = sorted((d for d in yaml.safe_load_all(out.stdout) if d), key=key)
    assert theirs == sorted(rendered, key=key)
