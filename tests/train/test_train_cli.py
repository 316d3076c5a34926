"""The `sqlensemble train` CLI: bad input fails fast with one line, the multi-GPU dry run."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from sqlensemble.train.cli import main
from sqlensemble.train.config import packaged


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        ["all", "--preset", "cpu-smoke", "--data", str(tmp_path / "nope"), "--run", str(tmp_path)], capsys
    )
    assert code == 2
    assert "data folder not found" in _one_line_error(err)
    assert not (tmp_path / "datasets").exists()


def test_assemble_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["assemble", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "d")], capsys)
    assert code == 2 and "data folder not found" in _one_line_error(err)


def test_unknown_generator_lists_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sft", "--preset", "cpu-smoke", "--generator", "sqlg9", "--run", str(tmp_path)]
    code, _, err = _run(argv, capsys)
    line = _one_line_error(err)
    assert code == 2
    assert "unknown generator 'sqlg9'" in line
    for name in ("sqlg1_heavy_aug", "sqlg2_moderate_aug", "sqlg3_light_aug", "sqlg4_no_aug"):
        assert name in line


@pytest.mark.parametrize("step", ["sft", "merge"])
def test_missing_base_model_path(step: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [step, "--preset", "cpu-smoke", "--generator", "sqlg4_no_aug", "--run", str(tmp_path)]
    code, _, err = _run([*argv, "--base", str(tmp_path / "no-base")], capsys)
    assert code == 2
    line = _one_line_error(err)
    assert ("base model not found" in line) or ("no final adapter" in line)


def test_sft_without_a_built_base_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sft", "--preset", "cpu-smoke", "--generator", "sqlg4_no_aug", "--run", str(tmp_path)]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert f"base model not found: {(tmp_path / 'base').resolve()}" in _one_line_error(err)
    assert not (tmp_path / "adapters").exists()


def test_unknown_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["sft", "--preset", "gpt9", "--generator", "x", "--run", str(tmp_path)], capsys)
    assert code == 2 and "unknown preset 'gpt9'" in _one_line_error(err)


def test_multi_gpu_dry_run_prints_the_accelerate_deepspeed_launch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    argv = ["sft", "--preset", "qwen2.5-coder-3b", "--generator", "sqlg2_moderate_aug", "--run", str(run)]
    code, out, _ = _run([*argv, "--num-gpus", "4", "--dry-run", "--resume"], capsys)
    assert code == 0
    command = shlex.split(out.strip().splitlines()[-1])
    assert Path(command[0]).name == "accelerate" and command[1] == "launch"
    assert command[command.index("--num_processes") + 1] == "4"
    assert "--use_deepspeed" in command
    zero2 = Path(command[command.index("--deepspeed_config_file") + 1])
    assert zero2 == packaged("deepspeed/zero2.json").resolve() and zero2.is_file()
    assert command[command.index("--mixed_precision") + 1] == "bf16"
    tail = command[command.index("-m") + 1 :]
    assert tail[:3] == ["sqlensemble.cli", "train", "sft"]
    assert tail[tail.index("--generator") + 1] == "sqlg2_moderate_aug"
    assert tail[tail.index("--run") + 1] == str(run.resolve())
    assert "--resume" in tail
    assert not run.exists()


def test_single_gpu_dry_run_trains_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sft", "--preset", "qwen2.5-coder-3b", "--generator", "sqlg1_heavy_aug", "--run", str(tmp_path)]
    code, out, _ = _run([*argv, "--num-gpus", "1", "--dry-run"], capsys)
    assert code == 0
    assert "accelerate" not in out and "single process" in out and "'learning_rate': 2e-06" in out


# `train all` checks every input before any work: (extra argv, preset sft edits, expected message)
FAIL_FAST = [
    pytest.param(
        ["--set", "learning_rat=1e-3"],
        {},
        "unknown SFTConfig field 'learning_rat' in --set; did you mean 'learning_rate'?",
        id="set-typo",
    ),
    pytest.param(
        [],
        {"max_stepz": 4},
        "unknown SFTConfig field 'max_stepz' in preset 'cpu-smoke' sft; did you mean 'max_steps'?",
        id="preset-typo",
    ),
    pytest.param(
        ["--set", "lr_scheduler_type=sideways"],
        {},
        "generator 'sqlg1_heavy_aug': invalid SFTConfig",
        id="bad-value",
    ),
    pytest.param(
        ["--set", "learning_rate"], {}, "expected KEY=VALUE, got 'learning_rate'", id="not-key-value"
    ),
]


def _smoke_preset_with(tmp_path: Path, sft_edits: dict[str, object]) -> Path:
    """The cpu-smoke preset with some SFT fields changed, as a file."""
    preset = yaml.safe_load(packaged("presets/cpu-smoke.yaml").read_text(encoding="utf-8"))
    preset["sft"] = {**preset["sft"], **sft_edits}
    path = tmp_path / "cpu-smoke.yaml"
    path.write_text(yaml.safe_dump(preset), encoding="utf-8")
    return path


@pytest.mark.parametrize(("extra", "sft_edits", "message"), FAIL_FAST)
def test_train_all_checks_every_input_before_any_work(
    extra: list[str],
    sft_edits: dict[str, object],
    message: str,
    mini_bird: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    preset_file = _smoke_preset_with(tmp_path, sft_edits)
    run = tmp_path / "run"
    argv = ["all", "--preset", str(preset_file), "--data", str(mini_bird), "--run", str(run), *extra]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert message in _one_line_error(err)
    assert not run.exists()  # nothing was assembled, built or trained


def test_run_folder_that_is_a_file_is_refused(mini_bird: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.write_text("not a folder")
    argv = ["all", "--preset", "cpu-smoke", "--data", str(mini_bird), "--run", str(run)]
    code, _, err = _run(argv, capsys)
    assert code == 2 and f"run folder {run} is a file" in _one_line_error(err)


def _tensorboard_not_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules is how Python itself marks a module that must not import: find_spec sees nothing
    for name in ("tensorboard", "tensorboardX"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    ("extra", "sft_edits"),
    [
        pytest.param(["--set", "report_to=tensorboard"], {}, id="set"),
        pytest.param([], {"report_to": ["tensorboard"]}, id="preset"),
    ],
)
def test_tensorboard_without_the_package_fails_before_any_work(
    extra: list[str],
    sft_edits: dict[str, object],
    mini_bird: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tensorboard_not_importable(monkeypatch)
    preset_file = _smoke_preset_with(tmp_path, sft_edits)
    run = tmp_path / "run"
    argv = ["all", "--preset", str(preset_file), "--data", str(mini_bird), "--run", str(run), *extra]
    code, _, err = _run(argv, capsys)
    assert code == 2
    line = _one_line_error(err)
    assert 'report_to: tensorboard needs the tensorboard package (pip install -e ".[tensorboard]")' in line
    assert not run.exists()


def test_tensorboard_writes_into_each_generators_run_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlensemble.train.rundir import tensorboard_dir
    from sqlensemble.train.sft import TENSORBOARD_DIR_ENV, tensorboard_logging_dir

    monkeypatch.setenv(TENSORBOARD_DIR_ENV, "/elsewhere")
    board = tensorboard_dir(Path("runs/qwen2.5-coder-3b"), "sqlg1_heavy_aug")
    assert board == Path("runs/qwen2.5-coder-3b/adapters/sqlg1_heavy_aug/tensorboard")
    with tensorboard_logging_dir(board):
        assert os.environ[TENSORBOARD_DIR_ENV] == str(board)
    assert os.environ[TENSORBOARD_DIR_ENV] == "/elsewhere"
    monkeypatch.delenv(TENSORBOARD_DIR_ENV)
    with tensorboard_logging_dir(None):
        assert TENSORBOARD_DIR_ENV not in os.environ
