"""The released-checkpoints stack: ``serve.models`` names checkpoints by hub id or local path, no manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sqlensemble.errors import ConfigError
from sqlensemble.serve.cli import main
from sqlensemble.stack import load_stack, parse_stack

from .test_dry_run import REPO_ROOT, flag, parse_plan

CONFIG = "configs/stack.xiyan-released.yaml"
RELEASED = {
    "xiyan_3b": "XGenerationLab/XiYanSQL-QwenCoder-3B-2504",
    "xiyan_7b": "XGenerationLab/XiYanSQL-QwenCoder-7B-2504",
    "xiyan_14b": "XGenerationLab/XiYanSQL-QwenCoder-14B-2504",
    "xiyan_32b": "XGenerationLab/XiYanSQL-QwenCoder-32B-2504",
}


@pytest.fixture
def fresh_clone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The repository as cloned: no databases, no models; the run folder in a temporary place."""
    monkeypatch.chdir(REPO_ROOT)
    for name in ("SQLENSEMBLE_DATABASES__ROOT", "SQLENSEMBLE_SERVE__MANIFEST", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SQLENSEMBLE_SERVE__RUN_DIR", str(tmp_path / "serve"))
    return tmp_path


def released_stack(tmp_path: Path, models: dict[str, str], **serve: object) -> Path:
    stack = yaml.safe_load((REPO_ROOT / CONFIG).read_text(encoding="utf-8"))
    names = list(models)
    stack["generators"] = [g for g in stack["generators"] if g["model"] in names]
    stack["serve"] = {**stack["serve"], "models": models, **serve}
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    return path


def test_the_stack_file_loads_with_four_released_checkpoints(fresh_clone):
    stack = load_stack(CONFIG, check_paths=False)
    assert stack.serve is not None and stack.serve.mode == "merged" and stack.serve.device == "cuda"
    assert stack.serve.models == RELEASED
    assert [g.model for g in stack.generators] == list(RELEASED)
    for g in stack.generators:
        assert (g.prompt.template, g.prompt.schema_style, g.prompt.dialect) == (
            "xiyan_zh",
            "mschema",
            "SQLite",
        )


def test_dry_run_on_a_fresh_clone_plans_one_engine_per_checkpoint(fresh_clone, capsys):
    assert main(["--config", CONFIG, "--dry-run", "--gpus", "4"]) == 0
    captured = capsys.readouterr()
    assert "warning: databases.root" in captured.err and "manifest" not in captured.err
    plan = parse_plan(captured.out)
    assert list(plan) == [*RELEASED, "gateway"]
    for i, (name, hub_id) in enumerate(RELEASED.items()):
        env, argv = plan[name]
        assert env == {"CUDA_VISIBLE_DEVICES": str(i)}
        assert flag(argv, "--model") == hub_id  # the hub id itself: vLLM fetches it, or finds it cached
        assert flag(argv, "--served-model-name") == name and flag(argv, "--port") == str(8100 + i)
        assert flag(argv, "--generation-config") == "vllm"
        assert "--tokenizer" not in argv and "--enable-lora" not in argv
        assert flag(argv, "--max-model-len") == "10752"
    assert plan["gateway"][1][-2:] == ["--config", CONFIG]
    assert not (fresh_clone / "serve").exists()


def test_a_local_path_is_served_like_a_hub_id(fresh_clone, capsys):
    folder = fresh_clone / "models" / "xiyan-3b"
    folder.mkdir(parents=True)
    config = released_stack(fresh_clone, {"xiyan_3b": str(folder), "xiyan_7b": RELEASED["xiyan_7b"]})
    assert main(["--config", str(config), "--dry-run", "--gpus", "2"]) == 0
    captured = capsys.readouterr()
    plan = parse_plan(captured.out)
    assert flag(plan["xiyan_3b"][1], "--model") == str(folder)
    assert flag(plan["xiyan_7b"][1], "--model") == RELEASED["xiyan_7b"]
    assert "no such folder" not in captured.err


def test_a_missing_local_folder_warns_in_a_dry_run_and_stops_a_real_start(fresh_clone, capsys, monkeypatch):
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(fresh_clone))
    config = released_stack(fresh_clone, {"xiyan_3b": "./absent/xiyan-3b"})
    assert main(["--config", str(config), "--dry-run", "--gpus", "1"]) == 0
    assert (
        "warning: serve.models: no such folder yet for xiyan_3b (./absent/xiyan-3b)"
        in capsys.readouterr().err
    )
    assert main(["--config", str(config), "--gpus", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "serve.models: no such folder for xiyan_3b" in err


GENERATOR = {"name": "g", "base_url": "http://127.0.0.1:8100/v1", "model": "g"}


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        (
            {"mode": "lora", "models": {"g": "O/g"}},
            "serve.models lists merged checkpoints: it needs mode: merged",
        ),
        ({"mode": "merged", "models": {"g": "O/g"}, "manifest": "runs/x/generators.yaml"}, "keep one"),
        ({"mode": "merged", "models": {"g": "models/a/g"}}, "'models/a/g' is neither a hub id"),
        ({"mode": "merged", "models": {"other": "O/g"}}, "serve.models has no checkpoint for the model of g"),
        ({"mode": "merged", "models": {"bad name": "O/g"}}, "served model name 'bad name'"),
    ],
)
def test_bad_models_are_refused_by_the_stack_model(tmp_path, serve, message):
    with pytest.raises(ConfigError, match=r"^stack: ") as info:
        parse_stack({"databases": {"root": str(tmp_path)}, "generators": [GENERATOR], "serve": serve})
    assert message in str(info.value)


def selecting_stack(tmp_path: Path, models: dict[str, str]) -> Path:
    """A released stack whose selection model is ``picker``, on the port after one generator's."""
    config = released_stack(tmp_path, models)
    stack = yaml.safe_load(config.read_text(encoding="utf-8"))
    stack["selection"] = {"mode": "model", "model": "picker", "base_url": "http://127.0.0.1:8101/v1"}
    config.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    return config


def test_a_released_selector_is_served_from_serve_models(fresh_clone, capsys):
    config = selecting_stack(fresh_clone, {"xiyan_3b": RELEASED["xiyan_3b"], "picker": "Owner/Picker-1B"})
    assert main(["--config", str(config), "--dry-run", "--gpus", "2"]) == 0
    plan = parse_plan(capsys.readouterr().out)
    assert list(plan) == ["xiyan_3b", "picker", "gateway"]
    assert flag(plan["picker"][1], "--model") == "Owner/Picker-1B"
    assert flag(plan["picker"][1], "--port") == "8101" and plan["picker"][0] == {"CUDA_VISIBLE_DEVICES": "1"}


def test_a_selecting_stack_must_name_the_selectors_checkpoint(fresh_clone, capsys):
    config = selecting_stack(fresh_clone, {"xiyan_3b": RELEASED["xiyan_3b"]})
    assert main(["--config", str(config), "--dry-run", "--gpus", "2"]) == 2
    *warnings, error = capsys.readouterr().err.splitlines()
    assert [w for w in warnings if not w.startswith("warning: ")] == []
    assert error == (
        "sqlensemble serve: serve.models has no checkpoint for the selection model 'picker' "
        "(it has: xiyan_3b)"
    )
