"""``sqlensemble download``: the dry run, argument errors and the stack rewrite (no test downloads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlensemble.commands.download import main, write_local_stack
from sqlensemble.stack import load_stack

REPO = Path(__file__).resolve().parents[2]
RELEASED = REPO / "configs" / "stack.xiyan-released.yaml"
SIZES = ("3B", "7B", "14B", "32B")

# A dry run in a fresh interpreter: which download libraries did it import?
PROBE = """
import json, sys
from sqlensemble.commands.download import main
code = main({argv!r})
loaded = [m for m in ("huggingface_hub", "modelscope") if m in sys.modules]
print(json.dumps({{"code": code, "loaded": loaded}}))
"""


def test_dry_run_from_the_released_stack_lists_every_checkpoint_and_fetches_nothing(tmp_path):
    argv = ["--from-stack", str(RELEASED), "--to", str(tmp_path / "models"), "--dry-run"]
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    *lines, last = proc.stdout.strip().splitlines()
    assert json.loads(last) == {"code": 0, "loaded": []}  # no hub client even imported
    assert lines == [
        f"would download XGenerationLab/XiYanSQL-QwenCoder-{size}-2504 from huggingface to "
        f"{tmp_path}/models/XGenerationLab/XiYanSQL-QwenCoder-{size}-2504"
        for size in SIZES
    ]
    assert not (tmp_path / "models").exists()


def test_dry_run_takes_ids_from_the_command_line_once_each(capsys, tmp_path):
    ids = ["Qwen/Qwen2.5-Coder-3B-Instruct", "XGenerationLab/XiYanSQL-QwenCoder-3B-2504"]
    out = tmp_path / "local.yaml"
    argv = [*ids, ids[1], "--from-stack", str(RELEASED), "--source", "modelscope", "--to", "m", "--dry-run"]
    assert main([*argv, "--write-stack", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "would download Qwen/Qwen2.5-Coder-3B-Instruct from modelscope to m/Qwen/Qwen2.5-Coder-3B-Instruct"
    )
    assert len(lines) == 1 + 4 + 1 and lines[-1].startswith(f"would write {out}")
    assert not out.exists()  # a dry run writes nothing


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "nothing to download"),
        (["--write-stack", "out.yaml", "O/a"], "--write-stack needs --from-stack"),
        (["./models/x"], "'./models/x' is a local path, not a hub id"),
        (["a/b/c"], "'a/b/c' is neither a hub id"),
        (["--from-stack", "configs/stack.gpu-3b.yaml"], "names no checkpoints in serve.models"),
        (["--from-stack", "configs/absent.yaml"], "cannot read stack file"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(capsys, monkeypatch, argv, message):
    monkeypatch.chdir(REPO)
    assert main([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sqlensemble download: ") and message in err


def test_the_rewritten_stack_serves_the_local_folders(tmp_path, monkeypatch):
    out = tmp_path / "stack.local.yaml"
    models = write_local_stack(RELEASED, Path("models"), out)
    expected = {
        f"xiyan_{size.lower()}": f"./models/XGenerationLab/XiYanSQL-QwenCoder-{size}-2504" for size in SIZES
    }
    assert models == expected
    original, copy = load_stack(RELEASED, check_paths=False), load_stack(out, check_paths=False)
    assert copy.generators == original.generators and copy.gateway == original.gateway
    assert copy.serve is not None and original.serve is not None
    assert copy.serve.model_copy(update={"models": original.serve.models}) == original.serve
    absolute = write_local_stack(RELEASED, tmp_path / "m", out)
    assert absolute["xiyan_3b"] == str(tmp_path / "m" / "XGenerationLab" / "XiYanSQL-QwenCoder-3B-2504")


def test_a_failed_download_is_one_line_exit_1(tmp_path):
    # HF_HUB_OFFLINE: huggingface_hub refuses to reach the network, as on an offline host
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "sqlensemble.cli", "download", "XGenerationLab/XiYanSQL-QwenCoder-3B-2504",
         "--to", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "sqlensemble download: XGenerationLab/XiYanSQL-QwenCoder-3B-2504 from huggingface:"
    )
    assert "Traceback" not in proc.stderr
