"""``sqlensemble serve --dry-run`` on the repository's two stack files."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
import yaml

from sqlensemble.manifest import manifest_entry
from sqlensemble.serve.cli import main

from .conftest import SELECTOR, SELECTOR_RANK

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMES = ["sqlg1_heavy_aug", "sqlg2_moderate_aug", "sqlg3_light_aug", "sqlg4_no_aug"]


def parse_plan(text: str) -> dict[str, tuple[dict[str, str], list[str]]]:
    """``name -> (env, argv)`` from the dry-run blocks."""
    plan = {}
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        name = lines[0].split()[2].rstrip(":")
        assert lines[1].startswith("# log: ")
        words = shlex.split(lines[2])
        env: dict[str, str] = {}
        if words[0] == "env":
            words = words[1:]
            while "=" in words[0] and not words[0].startswith("/"):
                key, value = words.pop(0).split("=", 1)
                env[key] = value
        plan[name] = (env, words)
    return plan


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_cpu_stack_dry_run(stack_env, manifest, capsys):
    assert main(["--config", "configs/stack.cpu.yaml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    plan = parse_plan(out)
    assert list(plan) == ["lora", "gateway"]
    env, argv = plan["lora"]
    assert env == {
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "OMP_NUM_THREADS": "2",
        "VLLM_CPU_KVCACHE_SPACE": "2",
    }
    assert argv[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert flag(argv, "--model") == manifest.base_model
    assert "--enable-lora" in argv
    modules = argv[argv.index("--lora-modules") + 1 : argv.index("--max-lora-rank")]
    # selection.mode is vote in the demo stack: the manifest's selector is not served
    assert modules == [f"{g.name}={g.adapter_path}" for g in manifest.generators if g.role == "generator"]
    assert flag(argv, "--max-lora-rank") == "16" and flag(argv, "--max-loras") == "4"
    assert (flag(argv, "--host"), flag(argv, "--port")) == ("127.0.0.1", "8100")
    assert flag(argv, "--dtype") == "float32" and flag(argv, "--max-model-len") == "2048"
    assert f"# log: {stack_env}/engine-lora.log" in out
    genv, gargv = plan["gateway"]
    assert genv == {}
    assert gargv == [sys.executable, "-m", "sqlensemble.cli", "gateway", "--config", "configs/stack.cpu.yaml"]
    assert "# gateway gateway: http://127.0.0.1:8000" in out
    assert not stack_env.exists()  # a dry run starts nothing and writes nothing


def test_cpu_stack_with_the_selector_serves_it_as_one_more_adapter(stack_env, manifest, capsys, monkeypatch):
    monkeypatch.setenv("SQLENSEMBLE_SELECTION__MODE", "model")
    assert main(["--config", "configs/stack.cpu.yaml", "--dry-run"]) == 0
    plan = parse_plan(capsys.readouterr().out)
    assert list(plan) == ["lora", "gateway"]  # no engine of its own
    argv = plan["lora"][1]
    modules = argv[argv.index("--lora-modules") + 1 : argv.index("--max-lora-rank")]
    assert modules == [f"{g.name}={g.adapter_path}" for g in manifest.generators]
    assert modules[-1] == f"{SELECTOR}={manifest_entry(manifest, SELECTOR).adapter_path}"
    assert flag(argv, "--max-lora-rank") == str(SELECTOR_RANK) and flag(argv, "--max-loras") == "5"


# (CUDA_VISIBLE_DEVICES, --gpu-memory-utilization) of the four generators' engines and the selector's
ON_FOUR = [("0", "0.45"), ("1", "0.9"), ("2", "0.9"), ("3", "0.9"), ("0", "0.45")]  # it shares GPU 0
ON_FIVE = [(str(i), "0.9") for i in range(5)]
ON_ONE = [("0", "0.18")] * 5


@pytest.mark.parametrize("manifest_preset", ["qwen2.5-coder-3b"])
@pytest.mark.parametrize(("gpus", "gpu_plan"), [("4", ON_FOUR), ("5", ON_FIVE), ("1", ON_ONE)])
def test_gpu_stack_dry_run(stack_env, manifest, capsys, gpus, gpu_plan):
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run", "--gpus", gpus]) == 0
    plan = parse_plan(capsys.readouterr().out)
    assert list(plan) == [*NAMES, SELECTOR, "gateway"]
    for i, name in enumerate([*NAMES, SELECTOR]):  # the selector on the port after the generators'
        env, argv = plan[name]
        visible, utilization = gpu_plan[i]
        assert env == {"CUDA_VISIBLE_DEVICES": visible}
        assert flag(argv, "--model") == manifest_entry(manifest, name).merged_path
        assert flag(argv, "--served-model-name") == name
        assert flag(argv, "--port") == str(8100 + i)
        assert flag(argv, "--gpu-memory-utilization") == utilization
        assert flag(argv, "--tensor-parallel-size") == "1"
        assert flag(argv, "--max-model-len") == "10752"
        assert flag(argv, "--generation-config") == "vllm"  # the checkpoint's sampling defaults stay out
        assert "--tokenizer" not in argv  # the merged folder holds its tokenizer
        assert "--enable-lora" not in argv and "--dtype" not in argv
        assert argv[-1] == "--enable-prefix-caching"
    assert plan["gateway"][1][-2:] == ["--config", "configs/stack.gpu-3b.yaml"]


def test_gpu_stack_dry_run_on_a_fresh_clone(monkeypatch, tmp_path, capsys):
    # no BIRD databases and no trained models: the plan still prints, with a warning for each
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(tmp_path / "bird" / "dev_databases"))
    monkeypatch.setenv("SQLENSEMBLE_SERVE__MANIFEST", str(tmp_path / "run" / "generators.yaml"))
    monkeypatch.setenv("SQLENSEMBLE_SERVE__RUN_DIR", str(tmp_path / "serve"))
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run", "--gpus", "4"]) == 0
    captured = capsys.readouterr()
    assert "warning: databases.root" in captured.err and "warning: no manifest at" in captured.err
    plan = parse_plan(captured.out)
    assert list(plan) == [*NAMES, SELECTOR, "gateway"]
    for name in [*NAMES, SELECTOR]:
        assert flag(plan[name][1], "--model") == str(tmp_path / "run" / "merged" / name)
    assert not (tmp_path / "serve").exists()


def test_a_real_start_still_needs_the_databases(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(tmp_path / "absent"))
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--gpus", "4"]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("manifest_preset", ["qwen2.5-coder-3b"])
def test_gpu_stack_follows_cuda_visible_devices(stack_env, capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run"]) == 0
    plan = parse_plan(capsys.readouterr().out)
    assert [plan[n][0]["CUDA_VISIBLE_DEVICES"] for n in [*NAMES, SELECTOR]] == ["4", "5", "6", "7", "4"]


@pytest.mark.parametrize("manifest_preset", ["qwen2.5-coder-3b"])
def test_gpu_stack_without_gpus_is_a_one_line_error(stack_env, capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no GPU is visible (pass --gpus N" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "configs/missing.yaml"], "cannot read stack file"),
        (["--config", "configs/stack.cpu.yaml", "--gpus", "0"], "--gpus must be at least 1"),
    ],
)
def test_bad_input_is_a_one_line_error(stack_env, capsys, args, message):
    assert main([*args, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sqlensemble serve: ") and message in err


def test_missing_manifest_says_to_train_first(stack_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SQLENSEMBLE_SERVE__MANIFEST", str(tmp_path / "nothing" / "generators.yaml"))
    assert main(["--config", "configs/stack.cpu.yaml", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make train-generators" in err


def test_stack_without_serve_section_is_refused(stack_env, capsys, tmp_path, db_root, monkeypatch):
    monkeypatch.delenv("SQLENSEMBLE_SERVE__MANIFEST")
    monkeypatch.delenv("SQLENSEMBLE_SERVE__RUN_DIR")
    path = tmp_path / "stack.yaml"
    path.write_text(
        f"databases: {{root: {db_root}}}\n"
        "generators: [{name: g, base_url: 'http://127.0.0.1:8100/v1', model: g}]\n"
    )
    assert main(["--config", str(path), "--dry-run"]) == 2
    assert "no serve: section" in capsys.readouterr().err


def test_routing_mismatch_is_refused(stack_env, capsys, monkeypatch):
    monkeypatch.setenv("SQLENSEMBLE_SERVE__BASE_PORT", "9100")
    assert main(["--config", "configs/stack.cpu.yaml", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no engine for generator 'sqlg1_heavy_aug'" in err and ":9100/v1" in err


def test_prompt_settings_that_differ_from_training_are_refused(stack_env, capsys):
    # the manifest says cpu-tiny trained every generator (max_examples: 0); stack.gpu-3b.yaml sends the
    # default number of example values, so its prompts are not the ones the models learned
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run", "--gpus", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sqlensemble serve: configs/stack.gpu-3b.yaml: ")
    for name in NAMES:
        assert f"generator {name!r}: prompt.max_examples is None but model {name!r} was trained with 0" in err
    # the selection's prompt is compared with the selector's entry too
    assert f"selection: prompt.max_examples is None but model {SELECTOR!r} was trained with 0" in err
    assert "prompt.template" not in err  # only the fields that differ are named


@pytest.mark.parametrize("manifest_preset", ["qwen2.5-coder-3b"])
def test_a_stack_that_selects_needs_the_selector_in_the_manifest(stack_env, capsys, manifest_path):
    data = yaml.safe_load(manifest_path.read_text())
    data["generators"] = [g for g in data["generators"] if g["role"] == "generator"]
    manifest_path.write_text(yaml.safe_dump(data))
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run", "--gpus", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "selection model 'selector' is not in the training manifest (it has: sqlg1_heavy_aug," in err
    assert err.rstrip().endswith("train the selector, or set selection.mode: vote")


@pytest.mark.parametrize("manifest_preset", ["qwen2.5-coder-3b"])
def test_a_selection_route_no_engine_serves_is_refused(stack_env, capsys, monkeypatch):
    monkeypatch.setenv("SQLENSEMBLE_SELECTION__BASE_URL", "http://127.0.0.1:8103/v1")  # sqlg4's engine
    assert main(["--config", "configs/stack.gpu-3b.yaml", "--dry-run", "--gpus", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no engine for selection (http://127.0.0.1:8103/v1, model 'selector')" in err
    assert "8104/v1 serves selector" in err
