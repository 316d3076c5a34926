from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlensemble.manifest import Manifest, load_manifest
from sqlensemble.serve.engines import ProcessSpec
from sqlensemble.serve.supervisor import Backoff, Supervisor
from sqlensemble.stack import StackConfig, parse_stack
from sqlensemble.train.config import load_preset

REPO = Path(__file__).resolve().parents[2]
FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")
GENERATOR_NAMES = ["sqlg1_heavy_aug", "sqlg2_moderate_aug", "sqlg3_light_aug", "sqlg4_no_aug"]
RANKS = [16, 8, 16, 8]
SELECTOR = "selector"  # the manifest's entry of role selector
SELECTOR_RANK = 32


@pytest.fixture
def manifest_preset() -> str:
    """The preset the manifest says the generators were trained with (its prompt settings are recorded);
    a test parametrizes it to pair a stack file with the preset that stack was written for."""
    return "cpu-tiny"


@pytest.fixture
def manifest_path(tmp_path: Path, manifest_preset: str) -> Path:
    """A training manifest like ``sqlensemble train`` writes, with adapter ranks 16, 8, 16, 8, and the
    selection model (role selector, rank 32) after the generators."""
    run = tmp_path / "run"
    preset = load_preset(manifest_preset)
    entries = [
        (name, "generator", name.split("_")[1], rank)
        for name, rank in zip(GENERATOR_NAMES, RANKS, strict=True)
    ]
    data = {
        "preset": manifest_preset,
        "base_model": str(run / "base"),
        "tokenizer": str(run / "base"),
        "generators": [
            {
                "name": name,
                "role": role,
                "level": level,
                "adapter_path": str(run / "adapters" / name / "checkpoint-final"),
                "merged_path": str(run / "merged" / name),
                "lora_rank": rank,
                "lora_alpha": 2 * rank,
                "prompt": preset.prompt_for(name).model_dump(),  # the selector: the preset's own
            }
            for name, role, level, rank in [*entries, (SELECTOR, "selector", "none", SELECTOR_RANK)]
        ],
    }
    run.mkdir()
    path = run / "generators.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def manifest(manifest_path: Path) -> Manifest:
    return load_manifest(manifest_path)


@pytest.fixture
def db_root(tmp_path: Path) -> Path:
    root = tmp_path / "dbs"
    root.mkdir()
    return root


@pytest.fixture
def make_stack(db_root: Path, manifest_path: Path, tmp_path: Path) -> Callable[..., StackConfig]:
    """A stack over the four generators; ``ports`` gives each generator's engine port (lora: all 8100).
    ``selection`` is the stack's selection section (default: none, the vote answers)."""

    def make(
        mode: str = "lora",
        device: str = "cpu",
        ports: list[int] | None = None,
        selection: dict[str, Any] | None = None,
        **serve: Any,
    ) -> StackConfig:
        ports = ports or ([8100] * 4 if mode == "lora" else [8100, 8101, 8102, 8103])
        generators = [
            {"name": name, "base_url": f"http://127.0.0.1:{port}/v1", "model": name, "priority": i + 1}
            for i, (name, port) in enumerate(zip(GENERATOR_NAMES, ports, strict=True))
        ]
        serve_section = {"mode": mode, "device": device, "manifest": str(manifest_path),
                         "run_dir": str(tmp_path / "serve"), **serve}  # fmt: skip
        data = {"databases": {"root": str(db_root)}, "generators": generators, "serve": serve_section}
        return parse_stack({**data, **({"selection": selection} if selection is not None else {})})

    return make


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch, db_root: Path, manifest_path: Path, tmp_path: Path) -> Path:
    """Point the repo's stack files at a temporary database root, manifest and run folder."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SQLENSEMBLE_DATABASES__ROOT", str(db_root))
    monkeypatch.setenv("SQLENSEMBLE_SERVE__MANIFEST", str(manifest_path))
    monkeypatch.setenv("SQLENSEMBLE_SERVE__RUN_DIR", str(tmp_path / "serve"))
    monkeypatch.delenv("SQLENSEMBLE_API_KEYS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return tmp_path / "serve"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A port nothing listens on now."""
    return _free_port


@pytest.fixture
def fake_spec(tmp_path: Path) -> Callable[..., ProcessSpec]:
    """A ProcessSpec that runs tests/serve/fake_engine.py on a free port."""

    def make(name: str, *flags: str, role: str = "engine", port: int | None = None) -> ProcessSpec:
        port = port or _free_port()
        argv = (sys.executable, str(FAKE_ENGINE), "--port", str(port), *flags)
        return ProcessSpec(name=name, role=role, argv=argv, host="127.0.0.1", port=port,  # type: ignore[arg-type]
                           log_path=tmp_path / "logs" / f"{name}.log")  # fmt: skip

    return make


@pytest.fixture
def supervisors() -> Iterator[Callable[..., Supervisor]]:
    """Build supervisors that record their events in ``.events``; every one is stopped at teardown."""
    made: list[Supervisor] = []

    def make(specs: list[ProcessSpec], **kwargs: Any) -> Supervisor:
        events: list[str] = []
        kwargs.setdefault("startup_timeout_s", 30.0)
        kwargs.setdefault("poll_s", 0.05)
        kwargs.setdefault("stop_grace_s", 10.0)
        kwargs.setdefault("backoff", Backoff(initial_s=1.0, factor=2.0, max_s=8.0, reset_after_s=300.0))
        supervisor = Supervisor(specs, on_event=events.append, **kwargs)
        supervisor.events = events  # type: ignore[attr-defined]
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop_all()
