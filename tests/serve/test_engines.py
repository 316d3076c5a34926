"""Engine command lines from a stack and a manifest: layouts, devices, GPU plans, rank rounding, routing."""

from __future__ import annotations

import pytest
import yaml

from sqlensemble.errors import ConfigError
from sqlensemble.manifest import load_manifest
from sqlensemble.serve.engines import (
    GIB,
    build_engines,
    build_gateway,
    check_ports,
    check_routes,
    plan_gpus,
    round_lora_rank,
)

from .conftest import SELECTOR, SELECTOR_RANK

NAMES = ["sqlg1_heavy_aug", "sqlg2_moderate_aug", "sqlg3_light_aug", "sqlg4_no_aug"]


def flag(argv: tuple[str, ...], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize(
    ("rank", "expected"),
    [
        (1, 1),
        (2, 8),
        (8, 8),
        (9, 16),
        (16, 16),
        (17, 32),
        (64, 64),
        (65, 128),
        (256, 256),
        (257, 320),
        (321, 512),
    ],
)
def test_lora_rank_rounds_up_to_a_rank_vllm_accepts(rank, expected):
    assert round_lora_rank(rank) == expected


def test_lora_rank_above_vllm_limit_is_refused():
    with pytest.raises(ConfigError, match="513"):
        round_lora_rank(513)


@pytest.mark.parametrize(
    ("engines", "tp", "gpus", "expected"),
    [
        (4, 1, ["0", "1", "2", "3"], [("0", 0.9), ("1", 0.9), ("2", 0.9), ("3", 0.9)]),
        (4, 1, ["0"], [("0", 0.22)] * 4),
        (4, 1, ["0", "1"], [("0", 0.45), ("1", 0.45), ("0", 0.45), ("1", 0.45)]),  # dealt round the GPUs
        (2, 2, ["0", "1", "2", "3"], [("0,1", 0.9), ("2,3", 0.9)]),
        (4, 2, ["0", "1", "2", "3"], [("0,1", 0.45), ("2,3", 0.45), ("0,1", 0.45), ("2,3", 0.45)]),
        (2, 1, ["4", "6"], [("4", 0.9), ("6", 0.9)]),
        (1, 1, ["0", "1"], [("0", 0.9)]),
        (5, 1, ["0", "1", "2", "3"], [("0", 0.45), ("1", 0.9), ("2", 0.9), ("3", 0.9), ("0", 0.45)]),
        (3, 1, ["0", "1", "2"], [("0", 0.9), ("1", 0.9), ("2", 0.9)]),  # an odd GPU count: one each
        (5, 2, ["0", "1", "2"], [("0,1", 0.18)] * 5),  # the third GPU makes no group of two
    ],
)
def test_gpu_plan(engines, tp, gpus, expected):
    assert plan_gpus(engines, tp, gpus, 0.9) == expected


def test_gpu_plan_refuses_too_few_gpus_for_tensor_parallel():
    with pytest.raises(ConfigError, match="tensor_parallel_size=2 needs 2 GPUs; 1 visible"):
        plan_gpus(1, 2, ["0"], 0.9)


def test_gpu_plan_refuses_too_little_memory_per_engine():
    with pytest.raises(ConfigError, match="19 engines on 1 shared GPU"):
        plan_gpus(19, 1, ["0"], 0.9)
    assert plan_gpus(19, 1, ["0", "1"], 0.9)[0] == ("0", 0.09)  # dealt over two GPUs, it fits


def test_lora_cpu_engine_serves_every_adapter_on_one_port(make_stack, manifest, tmp_path):
    (engine,) = build_engines(make_stack(), manifest, python="py")
    argv = engine.argv
    assert argv[:3] == ("py", "-m", "vllm.entrypoints.openai.api_server")
    assert flag(argv, "--model") == manifest.base_model and flag(argv, "--served-model-name") == "base"
    assert "--enable-lora" in argv and "--tokenizer" not in argv
    modules = argv[argv.index("--lora-modules") + 1 : argv.index("--max-lora-rank")]
    assert [m.split("=")[0] for m in modules] == NAMES
    assert modules[0] == f"sqlg1_heavy_aug={tmp_path}/run/adapters/sqlg1_heavy_aug/checkpoint-final"
    assert flag(argv, "--max-lora-rank") == "16" and flag(argv, "--max-loras") == "4"
    assert flag(argv, "--port") == "8100" and flag(argv, "--dtype") == "float32"
    assert flag(argv, "--max-model-len") == "2048"
    assert dict(engine.env) == {
        "VLLM_CPU_KVCACHE_SPACE": "2",
        "OMP_NUM_THREADS": "2",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    }
    assert engine.models == ("base", *NAMES)
    assert engine.log_path == tmp_path / "serve" / "engine-lora.log"
    assert "--gpu-memory-utilization" not in argv


def test_max_lora_rank_covers_the_largest_adapter(make_stack, manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"][2]["lora_rank"] = 20
    manifest_path.write_text(yaml.safe_dump(data))
    (engine,) = build_engines(make_stack(), load_manifest(manifest_path))
    assert flag(engine.argv, "--max-lora-rank") == "32"


def test_merged_cpu_engines_one_per_generator(make_stack, manifest, tmp_path):
    engines = build_engines(make_stack(mode="merged"), manifest)
    assert [e.port for e in engines] == [8100, 8101, 8102, 8103]
    assert [e.models for e in engines] == [(n,) for n in NAMES]
    for engine, name in zip(engines, NAMES, strict=True):
        assert flag(engine.argv, "--model") == f"{tmp_path}/run/merged/{name}"
        assert flag(engine.argv, "--served-model-name") == name
        assert "--tokenizer" not in engine.argv  # the merged folder holds its tokenizer
        assert flag(engine.argv, "--generation-config") == "vllm"
        assert "--enable-lora" not in engine.argv
        assert engine.env["VLLM_CPU_KVCACHE_SPACE"] == "2"


def test_merged_cuda_four_gpus_one_each(make_stack, manifest):
    engines = build_engines(make_stack(mode="merged", device="cuda"), manifest, gpus=["0", "1", "2", "3"])
    assert [e.env["CUDA_VISIBLE_DEVICES"] for e in engines] == ["0", "1", "2", "3"]
    assert {flag(e.argv, "--gpu-memory-utilization") for e in engines} == {"0.9"}
    assert {flag(e.argv, "--tensor-parallel-size") for e in engines} == {"1"}
    assert all("--dtype" not in e.argv and "VLLM_CPU_KVCACHE_SPACE" not in e.env for e in engines)


def test_merged_cuda_one_gpu_splits_memory(make_stack, manifest):
    engines = build_engines(make_stack(mode="merged", device="cuda"), manifest, gpus=["0"])
    assert [e.env["CUDA_VISIBLE_DEVICES"] for e in engines] == ["0"] * 4
    assert {flag(e.argv, "--gpu-memory-utilization") for e in engines} == {"0.22"}


def test_lora_cuda_tensor_parallel_takes_the_first_gpus(make_stack, manifest):
    stack = make_stack(device="cuda", tensor_parallel_size=2, gpu_memory_utilization=0.85)
    (engine,) = build_engines(stack, manifest, gpus=["2", "3", "5"])
    assert engine.env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert flag(engine.argv, "--tensor-parallel-size") == "2"
    assert flag(engine.argv, "--gpu-memory-utilization") == "0.85"


def test_cuda_without_gpus_is_refused(make_stack, manifest):
    with pytest.raises(ConfigError, match="no GPU is visible"):
        build_engines(make_stack(mode="merged", device="cuda"), manifest, gpus=[])


def test_extra_args_and_env_pass_through_and_win(make_stack, manifest):
    stack = make_stack(
        extra_args=["--dtype", "bfloat16", "--enforce-eager"], env={"VLLM_CPU_OMP_THREADS_BIND": "0-1"}
    )
    (engine,) = build_engines(stack, manifest)
    assert engine.argv.count("--dtype") == 1 and flag(engine.argv, "--dtype") == "bfloat16"
    assert engine.argv[-1] == "--enforce-eager"
    assert engine.env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"


def test_extra_args_may_not_move_routing_flags(make_stack, manifest):
    with pytest.raises(ConfigError, match="--port"):
        build_engines(make_stack(extra_args=["--port=9000"]), manifest)


def test_fractional_cpu_kv_cache_uses_bytes(make_stack, manifest):
    (engine,) = build_engines(make_stack(cpu_kvcache_space_gb=1.5), manifest)
    assert flag(engine.argv, "--kv-cache-memory-bytes") == str(int(1.5 * GIB))
    assert "VLLM_CPU_KVCACHE_SPACE" not in engine.env


def test_generator_missing_from_manifest_is_named(make_stack, manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"] = data["generators"][:3]
    manifest_path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="'sqlg4_no_aug' is not in the training manifest"):
        build_engines(make_stack(), load_manifest(manifest_path))


def test_merged_needs_merged_paths(make_stack, manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"][0]["merged_path"] = None  # adapter trained, not merged yet
    manifest_path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"sqlg1_heavy_aug.*no merged_path"):
        build_engines(make_stack(mode="merged"), load_manifest(manifest_path))


def test_routes_match_engines(make_stack, manifest):
    for stack in (make_stack(), make_stack(mode="merged")):
        check_routes(stack, build_engines(stack, manifest))


def test_route_to_a_port_no_engine_listens_on_is_refused(make_stack, manifest):
    stack = make_stack(mode="merged", ports=[8100, 8101, 8102, 8200])
    engines = build_engines(stack, manifest)
    with pytest.raises(
        ConfigError, match=r"no engine for generator 'sqlg4_no_aug' \(http://127.0.0.1:8200/v1"
    ):
        check_routes(stack, engines)


def test_route_on_the_right_port_with_another_models_engine_is_refused(make_stack, manifest):
    stack = make_stack(mode="merged", ports=[8100, 8101, 8103, 8102])
    with pytest.raises(ConfigError, match=r"sqlg3_light_aug.*8103/v1 serves sqlg4_no_aug"):
        check_routes(stack, build_engines(stack, manifest))


def test_gateway_port_clash_is_refused(make_stack, manifest, tmp_path):
    stack = make_stack()
    engines = build_engines(stack, manifest)
    gateway = build_gateway(stack, tmp_path / "stack.yaml", python="py")
    assert gateway.argv == (
        "py",
        "-m",
        "sqlensemble.cli",
        "gateway",
        "--config",
        str(tmp_path / "stack.yaml"),
    )
    assert gateway.health_url == "http://127.0.0.1:8000/health"
    check_ports([*engines, gateway])
    with pytest.raises(ConfigError, match="port 8100"):
        check_ports([*engines, build_engines(stack, manifest)[0]])


SELECTS = {"mode": "model", "model": SELECTOR, "base_url": "http://127.0.0.1:8100/v1"}


def test_lora_engine_serves_the_selector_as_one_more_adapter(make_stack, manifest, tmp_path):
    stack = make_stack(selection=SELECTS)
    (engine,) = build_engines(stack, manifest)
    modules = engine.argv[engine.argv.index("--lora-modules") + 1 : engine.argv.index("--max-lora-rank")]
    assert modules[-1] == f"{SELECTOR}={tmp_path}/run/adapters/{SELECTOR}/checkpoint-final"
    assert [m.split("=")[0] for m in modules] == [*NAMES, SELECTOR]
    assert flag(engine.argv, "--max-loras") == "5"
    assert flag(engine.argv, "--max-lora-rank") == str(SELECTOR_RANK)  # its rank counts too
    assert engine.models == ("base", *NAMES, SELECTOR)
    check_routes(stack, [engine])


def test_merged_selector_gets_its_own_engine_on_the_next_port(make_stack, manifest, tmp_path):
    stack = make_stack(mode="merged", selection={**SELECTS, "base_url": "http://127.0.0.1:8104/v1"})
    engines = build_engines(stack, manifest)
    assert [e.port for e in engines] == [8100, 8101, 8102, 8103, 8104]
    selector = engines[-1]
    assert selector.name == SELECTOR and selector.models == (SELECTOR,)
    assert flag(selector.argv, "--model") == f"{tmp_path}/run/merged/{SELECTOR}"
    assert flag(selector.argv, "--served-model-name") == SELECTOR
    assert selector.log_path == tmp_path / "serve" / f"engine-{SELECTOR}.log"
    check_routes(stack, engines)


def test_a_selector_in_vote_mode_is_not_served(make_stack, manifest):
    stack = make_stack(mode="merged", selection={**SELECTS, "mode": "vote"})
    assert [e.name for e in build_engines(stack, manifest)] == NAMES


def test_selection_route_to_a_generator_engine_is_refused(make_stack, manifest):
    stack = make_stack(mode="merged", selection={**SELECTS, "base_url": "http://127.0.0.1:8101/v1"})
    with pytest.raises(
        ConfigError, match=r"no engine for selection \(http://127.0.0.1:8101/v1, model 'selector'\)"
    ):
        check_routes(stack, build_engines(stack, manifest))


def without_selector(manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"] = [g for g in data["generators"] if g["role"] == "generator"]
    manifest_path.write_text(yaml.safe_dump(data))
    return load_manifest(manifest_path)


@pytest.mark.parametrize("mode", ["lora", "merged"])
def test_selection_model_missing_from_the_manifest_is_one_line(make_stack, manifest_path, mode):
    stack = make_stack(mode=mode, selection=SELECTS)
    with pytest.raises(ConfigError) as info:
        build_engines(stack, without_selector(manifest_path))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("selection model 'selector' is not in the training manifest (it has: sqlg1")
    assert message.endswith("; train the selector, or set selection.mode: vote")


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ({"model": "sqlg2_moderate_aug"}, "selection.model 'sqlg2_moderate_aug' is also a generator's model"),
        ({"model": "other"}, "selection model 'other' is not in the training manifest"),
    ],
)
def test_selection_model_must_be_a_model_of_its_own(make_stack, manifest, selection, message):
    with pytest.raises(ConfigError, match=message):
        build_engines(make_stack(selection={**SELECTS, **selection}), manifest)


def test_roles_in_the_manifest_are_kept_apart(make_stack, manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"][0]["role"] = "selector"  # sqlg1's entry says it was trained to select
    data["generators"][-1]["role"] = "generator"
    manifest_path.write_text(yaml.safe_dump(data))
    manifest = load_manifest(manifest_path)
    with pytest.raises(ConfigError, match="generator model 'sqlg1_heavy_aug' is a selector in the manifest"):
        build_engines(make_stack(), manifest)
    data["generators"][0]["role"] = "generator"
    manifest_path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="selection model 'selector' is a generator in the manifest"):
        build_engines(make_stack(selection=SELECTS), load_manifest(manifest_path))


def test_merged_selector_needs_its_merged_path(make_stack, manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"][-1]["merged_path"] = None
    manifest_path.write_text(yaml.safe_dump(data))
    stack = make_stack(mode="merged", selection={**SELECTS, "base_url": "http://127.0.0.1:8104/v1"})
    with pytest.raises(ConfigError, match="selector 'selector' has no merged_path in the manifest"):
        build_engines(stack, load_manifest(manifest_path))
