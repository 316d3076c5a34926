"""Every command in the README is run by a test or by the demo, so none of them rots.

Each ``$ command`` line of the README's console blocks must match one row of COVERAGE, and each row
checks its command here: it runs it (paths swapped for the session's small synthetic benchmark, GPU runs
and serving as dry runs) or checks what ``make -n`` would run. ``make demo`` and ``make test`` run for
real in ``tests/e2e`` and CI; the curl and ``openai`` examples run against a real engine in
``tests/e2e/test_stack_e2e.py``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def readme_commands() -> list[str]:
    commands, fence = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
        elif fence == "console" and line.startswith("$ "):
            commands.append(line[2:].strip())
    return commands


def make_expansion(command: str) -> list[list[str]]:
    """The commands ``make -n`` would run for a README make line (setup steps left out)."""
    out = subprocess.run(["make", "-n", *shlex.split(command)[1:]], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if re.search(r"sqlensemble|pytest|bench/", line)]
    runs = [shlex.split(line) for line in lines]
    return [r for r in runs if "pip" not in r and "venv" not in r]


def cli(argv: list[str], cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "sqlensemble.cli", *argv], cwd=cwd, capture_output=True, text=True, env=full
    )


def _swap(argv: list[str], synth: Path) -> list[str]:
    return [a.replace("data/synth", str(synth)).replace("data/bird", str(synth)) for a in argv]


def check_demo(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert Path(run[0]).name == "sqlensemble" and run[1] == "demo"


def check_demo_selector(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert Path(run[0]).name == "sqlensemble" and run[1:3] == ["demo", "--selector"]


def check_train_selector(command: str, synth: Path, tmp_path: Path) -> None:
    """The selector's dry run: the data pass's serve and eval commands, on the run folder given."""
    argv = _swap(shlex.split(command)[1:], synth)
    argv[argv.index("--run") + 1] = str(tmp_path / "run")
    proc = cli(argv)
    assert proc.returncode == 0, proc.stderr
    assert "SQLENSEMBLE_SELECTION__MODE=vote sqlensemble serve --config configs/stack.cpu.yaml" in proc.stdout
    assert "--out " + str(tmp_path / "run" / "selector-data") in proc.stdout
    assert not (tmp_path / "run" / "selector-data").exists()


def check_test(command: str, synth: Path) -> None:
    runs = make_expansion(command)
    assert any(Path(r[0]).name == "pytest" for r in runs)
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def check_train_gpu(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1:4] == ["train", "all", "--preset"] and "qwen2.5-coder-3b" in run
    proc = cli([*_swap(run[1:], synth), "--dry-run", "--num-gpus", "4"])
    assert proc.returncode == 0, proc.stderr
    assert "accelerate" in proc.stdout and "zero2" in proc.stdout
    assert "--generator selector" in proc.stdout  # the selector's fine-tune ends make train-generators


def check_eval(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1] == "eval"
    argv = _swap(run[1:], synth)
    argv[argv.index("--gateway") + 1] = "http://127.0.0.1:9"  # nothing listens: the clear refusal
    proc = cli(argv)
    assert proc.returncode != 0
    assert "127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr


def check_synth(command: str, synth: Path, tmp: Path) -> None:
    argv = shlex.split(command)[1:]
    argv[argv.index("--out") + 1] = str(tmp / "synth")
    proc = cli([*argv, "--size", "small"])
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "synth" / "dev" / "dev_gold.sql").is_file()


def check_schema_or_exec(command: str, synth: Path) -> None:
    proc = cli(_swap(shlex.split(command)[1:], synth))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def check_bench(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1].endswith("bench/gateway_latency.py") and "--gateway" in run


def check_cost_curve(command: str, synth: Path) -> None:
    """The README's runs are not here: the script must name the missing results, not fail obscurely."""
    argv = shlex.split(command)
    proc = subprocess.run([sys.executable, *argv[1:]], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (
        proc.returncode != 0
        and "no results.duckdb in runs/" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def check_fault_bench(command: str, synth: Path) -> None:
    (run,) = make_expansion(command)
    assert run[1].endswith("bench/fault_load.py")


DRY_RUNS = "tests/serve/test_dry_run.py"


def check_setup(command: str, synth: Path) -> None:
    """The variable reaches pip, and setup installs what the README says, through that pip."""
    variable, _, rest = command.partition(" ")
    name, value = variable.split("=", 1)
    assert name == "PIP_EXTRA_INDEX_URL" and rest == "make setup"
    steps = subprocess.run(["make", "-n", "-B", "setup"], cwd=REPO, capture_output=True, text=True)
    assert steps.returncode == 0, steps.stderr
    assert '-m pip install --quiet -e ".[dev,train,cpu]"' in steps.stdout  # a pip that reads PIP_* variables
    assert "pip uninstall --quiet -y torchvision torchaudio torchcodec" in steps.stdout
    seen = subprocess.run(
        [sys.executable, "-m", "pip", "config", "debug"], capture_output=True, text=True, env={name: value}
    )
    assert f"{name}='{value}'" in seen.stdout, seen.stdout


# stack file -> the preset its generators' prompts were written for (what its manifest records)
STACK_PRESETS = {"configs/stack.cpu.yaml": "cpu-tiny", "configs/stack.gpu-3b.yaml": "qwen2.5-coder-3b"}


def check_serve_dry_run(command: str, synth: Path, tmp: Path) -> None:
    """``sqlensemble serve --dry-run`` on the README's stack file, with a manifest like training writes."""
    from sqlensemble.manifest import Manifest, ManifestGenerator
    from sqlensemble.train.config import load_preset

    (run,) = make_expansion(command) if command.startswith("make ") else [shlex.split(command)]
    config = run[run.index("--config") + 1]
    stack = yaml.safe_load((REPO / config).read_text(encoding="utf-8"))
    roles = {g["model"]: "generator" for g in stack["generators"]}
    if stack.get("selection", {}).get("mode") == "model":  # the selection model is served too
        roles[stack["selection"].get("model", "selector")] = "selector"
    models = list(roles)
    preset = load_preset(STACK_PRESETS[config])
    generators = [
        ManifestGenerator(name=m, role=role, level="none", adapter_path=str(tmp / m),
                          merged_path=str(tmp / "m" / m), lora_rank=16, lora_alpha=32,
                          prompt=preset.prompt_for(m))
        for m, role in roles.items()
    ]  # fmt: skip
    manifest = tmp / "generators.yaml"
    body = Manifest(preset=STACK_PRESETS[config], base_model="b", tokenizer="b", generators=generators)
    manifest.write_text(yaml.safe_dump(body.model_dump()), encoding="utf-8")
    env = {
        "SQLENSEMBLE_DATABASES__ROOT": str(synth / "dev" / "dev_databases"),
        "SQLENSEMBLE_SERVE__MANIFEST": str(manifest),
        "SQLENSEMBLE_SERVE__RUN_DIR": str(tmp / "serve"),
    }
    extra = ["--gpus", "4"] if stack["serve"]["device"] == "cuda" else []
    argv = [a for a in run[1:] if a != "--dry-run"]
    proc = cli([*argv, "--dry-run", *extra], **env)
    assert proc.returncode == 0, proc.stderr
    for model in models:
        assert model in proc.stdout
    assert f"--config {config}" in proc.stdout  # the gateway it starts reads the same stack file
    assert not (tmp / "serve").exists()  # a dry run starts and writes nothing


def check_released_dry_run(command: str, synth: Path, tmp: Path) -> None:
    """The released-checkpoints stack plans one engine per hub id on a host without data or models."""
    argv = shlex.split(command)[1:]
    config = argv[argv.index("--config") + 1]
    stack = yaml.safe_load((REPO / config).read_text(encoding="utf-8"))
    env = {"SQLENSEMBLE_SERVE__RUN_DIR": str(tmp / "serve")}
    proc = cli(argv, **env)
    assert proc.returncode == 0, proc.stderr
    for name, hub_id in stack["serve"]["models"].items():
        assert f"--model {hub_id} --served-model-name {name}" in proc.stdout
    assert f"--config {config}" in proc.stdout
    assert not (tmp / "serve").exists()


def check_download(command: str, synth: Path, tmp: Path) -> None:
    """The download command, as a dry run (tests never download): every hub id of the stack, and where."""
    argv = shlex.split(command)[1:]
    argv[argv.index("--to") + 1] = str(tmp / "models")
    argv[argv.index("--write-stack") + 1] = str(tmp / "local.yaml")
    proc = cli([*argv, "--dry-run"])
    assert proc.returncode == 0, proc.stderr
    stack = yaml.safe_load((REPO / argv[argv.index("--from-stack") + 1]).read_text(encoding="utf-8"))
    for hub_id in stack["serve"]["models"].values():
        assert f"would download {hub_id} from huggingface to {tmp / 'models' / hub_id}" in proc.stdout
    assert not (tmp / "models").exists() and not (tmp / "local.yaml").exists()


def check_training_log(command: str, synth: Path) -> None:
    """``tail -f`` names the log file training writes for the 3B preset's run folder."""
    from sqlensemble.train.config import load_generators
    from sqlensemble.train.rundir import adapter_dir
    from sqlensemble.train.sft import LOG_FILE

    path = Path(shlex.split(command)[-1])
    (run,) = make_expansion("make train-generators PRESET=qwen2.5-coder-3b DATA=data/bird GPU=1")
    run_dir = Path(run[run.index("--run") + 1])
    assert path in {adapter_dir(run_dir, g.name) / LOG_FILE for g in load_generators()}


def check_tensorboard(command: str, synth: Path) -> None:
    """``--logdir`` is the run folder that holds every generator's TensorBoard folder."""
    from sqlensemble.train.config import load_generators
    from sqlensemble.train.rundir import tensorboard_dir

    argv = shlex.split(command)
    logdir = Path(argv[argv.index("--logdir") + 1])
    (run,) = make_expansion("make train-generators PRESET=qwen2.5-coder-3b DATA=data/bird GPU=1")
    assert logdir == Path(run[run.index("--run") + 1])
    assert all(tensorboard_dir(logdir, g.name).is_relative_to(logdir) for g in load_generators())
    assert 'tensorboard = ["tensorboard' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


# README command pattern -> how it is checked: a function run here, or the test that runs it.
COVERAGE: list[tuple[str, Callable[..., None]]] = [
    (r"make demo", check_demo),
    (r"make demo-selector", check_demo_selector),
    (r"sqlensemble train selector .* --dry-run", check_train_selector),
    (r"make test", check_test),
    (r"make train-generators PRESET=qwen2\.5-coder-3b .*", check_train_gpu),
    (r"make serve CONFIG=configs/stack\.gpu-3b\.yaml.*", check_serve_dry_run),
    (r"make eval .*", check_eval),
    (r"sqlensemble synth .*", check_synth),
    (r"sqlensemble (schema|exec) .*", check_schema_or_exec),
    (r"sqlensemble serve --config configs/stack\.cpu\.yaml --dry-run", check_serve_dry_run),
    (r"sqlensemble serve --config configs/stack\.xiyan-released\.yaml --dry-run --gpus 4", check_released_dry_run),  # noqa: E501
    (r"sqlensemble download --from-stack \S+ --to \S+ --write-stack \S+", check_download),
    (r"tail -f runs/qwen2\.5-coder-3b/adapters/\w+/training\.log", check_training_log),
    (r"tensorboard --logdir runs/qwen2\.5-coder-3b", check_tensorboard),
    (r"make bench .*", check_bench),
    (r"make fault-bench", check_fault_bench),
    (r"python bench/cost_curve\.py .*", check_cost_curve),
    (r"PIP_EXTRA_INDEX_URL=\S+ make setup", check_setup),
]  # fmt: skip


def _row(command: str) -> Callable[..., None]:
    matches = [how for pattern, how in COVERAGE if re.fullmatch(pattern, command)]
    assert len(matches) == 1, f"README command {command!r} is checked by {len(matches)} rows of COVERAGE"
    return matches[0]


def test_readme_has_the_two_commands() -> None:
    commands = readme_commands()
    assert "make demo" in commands and "make test" in commands


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_is_covered(command: str, tiny_synth: Path, tmp_path: Path) -> None:
    how = _row(command)
    if how in (
        check_synth,
        check_serve_dry_run,
        check_released_dry_run,
        check_download,
        check_train_selector,
    ):
        how(command, tiny_synth, tmp_path)
    else:
        how(command, tiny_synth)
