"""The supervisor against real short-lived processes (tests/serve/fake_engine.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from sqlensemble.serve.errors import StartupError
from sqlensemble.serve.supervisor import Backoff, probe_health

pytestmark = pytest.mark.timeout(120)


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE  # reparented and killed; only the init may reap it
    except psutil.NoSuchProcess:
        return True


def test_starts_in_order_each_healthy_before_the_next(fake_spec, supervisors):
    a = fake_spec("engine-a")
    b = fake_spec("engine-b", "--after", a.health_url)
    gateway = fake_spec("gateway", "--after", b.health_url, role="gateway")
    sup = supervisors([a, b, gateway])

    assert sup.start_all() is True

    assert [e.split()[0] + " " + e.split()[1] for e in sup.events] == [
        "start engine-a", "up engine-a", "start engine-b", "up engine-b", "start gateway", "up gateway",
    ]  # fmt: skip
    assert all(probe_health(s.health_url) for s in (a, b, gateway))
    assert "start #1" in a.log_path.read_text()
    assert {c.state for c in sup.children} == {"up"}


def test_health_deadline_names_the_log_and_stops_what_started(fake_spec, supervisors):
    ok = fake_spec("engine-a", "--spawn-child")
    stuck = fake_spec("engine-b", "--unhealthy")
    sup = supervisors([ok, stuck], startup_timeout_s=1.0)

    with pytest.raises(StartupError) as info:
        sup.start_all()

    message = str(info.value)
    assert "engine-b" in message and "within 1s" in message and str(stuck.log_path) in message
    assert "fake engine on port" in info.value.log_tail
    assert all(c.proc is not None and c.proc.poll() is not None for c in sup.children)
    assert not probe_health(ok.health_url)


def test_exit_while_starting_reports_code_and_log_tail(fake_spec, supervisors):
    broken = fake_spec("engine-a", "--exit-code", "7")
    sup = supervisors([broken])

    with pytest.raises(
        StartupError, match=r"engine-a exited with code 7 while starting; see .*engine-a\.log"
    ):
        sup.start_all()
    with pytest.raises(StartupError) as info:
        supervisors([broken]).start_all()
    assert "model folder not found" in info.value.log_tail


def test_dead_engine_restarts_after_a_growing_backoff(fake_spec, supervisors):
    spec = fake_spec("engine-a")
    sup = supervisors([spec], backoff=Backoff(initial_s=1.0, factor=2.0, max_s=8.0, reset_after_s=300.0))
    assert sup.start_all()
    child = sup.child("engine-a")
    assert child.proc is not None
    first_pid = child.proc.pid

    os.killpg(first_pid, signal.SIGKILL)
    child.proc.wait()
    t0 = child.started_at + 5.0
    sup.tick(now=t0)
    assert child.state == "down" and child.failures == 1 and child.restart_at == t0 + 1.0
    assert any(e.startswith("down engine-a: exited with code -9; restart in 1s") for e in sup.events)

    sup.tick(now=t0 + 0.5)
    assert child.state == "down" and child.proc.pid == first_pid

    sup.tick(now=t0 + 1.0)
    assert child.state == "starting" and child.proc.pid != first_pid and child.starts == 2
    assert sup.wait_up("engine-a") and probe_health(spec.health_url)
    assert spec.log_path.read_text().count("==> ") == 2

    os.killpg(child.proc.pid, signal.SIGKILL)
    child.proc.wait()
    sup.tick(now=child.started_at + 5.0)  # a quick second failure doubles the delay
    assert child.failures == 2 and child.restart_at == child.started_at + 5.0 + 2.0


def test_only_one_child_restarts_at_a_time(fake_spec, supervisors):
    a, b = fake_spec("engine-a"), fake_spec("engine-b")
    sup = supervisors([a, b])
    assert sup.start_all()
    for child in sup.children:
        assert child.proc is not None
        os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait()
    now = max(c.started_at for c in sup.children) + 5.0
    sup.tick(now=now)
    sup.tick(now=now + 1.0)
    assert [c.state for c in sup.children] == ["starting", "down"]
    sup.wait_up("engine-a")
    sup.tick(now=now + 1.0)
    assert [c.state for c in sup.children] == ["up", "starting"]


def test_stop_kills_the_whole_group_even_when_sigterm_is_ignored(fake_spec, supervisors):
    spec = fake_spec("engine-a", "--spawn-child", "--ignore-term")
    sup = supervisors([spec], stop_grace_s=0.5)
    assert sup.start_all()
    child = sup.child("engine-a")
    assert child.proc is not None
    family = [psutil.Process(child.proc.pid), *_descendants(child.proc.pid)]
    assert len(family) == 2

    sup.stop_all()

    assert all(_gone(p) for p in family)
    assert child.proc.returncode == -signal.SIGKILL
    assert sup.events[-1] == "stopped engine-a"


def test_sigterm_to_the_supervising_process_leaves_no_process(tmp_path: Path, free_port):
    ports = [free_port() for _ in range(3)]
    script = Path(__file__).with_name("run_fake_stack.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), *map(str, ports)],
        stdout=subprocess.PIPE, text=True, cwd=script.parent,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        family = _descendants(proc.pid)
        assert len(family) == 6  # three children, each with a grandchild
        assert all(probe_health(f"http://127.0.0.1:{port}/health") for port in ports)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert all(_gone(p) for p in family)
    assert not any(probe_health(f"http://127.0.0.1:{port}/health") for port in ports)
