"""``report.html`` from a real ``sqlensemble eval`` run (the real gateway, scripted generators, real
SQLite), opened in a real Chromium: every figure decodes and renders."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlensemble.eval.cli import main as eval_main

from .conftest import Script, make_stack, serve

OSLO_COUNT = "SELECT count(*) FROM schools WHERE city = 'Oslo'"
OSLO_COUNT_ALT = "SELECT COUNT(id) FROM schools WHERE city='Oslo'"
ALL_COUNT = "SELECT count(*) FROM schools"
DENIED = "SELECT load_extension('evil.so')"
BIG = "SELECT name FROM schools WHERE students > 300"
# marker -> (gold SQL, difficulty, what g1 and g2 sample)
QUESTIONS: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "[a]": (OSLO_COUNT, "simple", {"g1": [OSLO_COUNT, ALL_COUNT], "g2": [OSLO_COUNT_ALT, OSLO_COUNT]}),
    "[b]": (ALL_COUNT, "moderate", {"g1": [ALL_COUNT], "g2": [ALL_COUNT]}),
    "[c]": (BIG, "challenging", {"g1": [ALL_COUNT], "g2": [OSLO_COUNT]}),
    "[d]": ("SELECT count(*) FROM teachers", "simple", {"g1": [DENIED], "g2": [ALL_COUNT]}),
}  # fmt: skip


def run_eval(db_root: Path, out: Path, base: str) -> None:
    # [a] names Oslo, as a real question would: the vote discounts a value the question never names.
    dev = [
        {"question_id": i, "db_id": "schools", "question": f"Question {marker}?",
         "evidence": "city = 'Oslo'" if marker == "[a]" else "", "SQL": gold, "difficulty": difficulty}
        for i, (marker, (gold, difficulty, _)) in enumerate(QUESTIONS.items())
    ]  # fmt: skip
    dev_json = out.parent / "dev.json"
    dev_json.write_text(json.dumps(dev), encoding="utf-8")
    argv = ["--data", str(dev_json), "--db-root", str(db_root), "--gateway", base, "--out", str(out)]
    # In a thread of its own: Playwright's sync API keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(eval_main, [*argv, "--no-progress"]).result(timeout=300) == 0


def test_report_html_figures_render(browser: Any, db_root: Path, tmp_path: Path, artifacts: Path) -> None:
    script = Script({}, markers={marker: replies for marker, (_, _, replies) in QUESTIONS.items()})
    out = tmp_path / "eval"
    with serve(make_stack(db_root, ["g1", "g2"]), script) as base:
        run_eval(db_root, out, base)
    report = out / "report.html"
    assert report.is_file() and (out / "report.md").is_file()

    context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    figures = page.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert [alt for alt, *_ in figures] == [
        "EX by difficulty for each system",
        "calibration plot: vote confidence against accuracy",
        "agreement histogram",
        "latency histogram",
    ]
    assert all(complete and width > 100 and height > 100 for _, complete, width, height in figures), figures
    assert requests == [report.as_uri()]  # nothing fetched beyond the file itself
    ex_rows = page.locator("table").first.locator("tbody tr")
    assert ex_rows.first.locator("td").all_inner_texts() == [
        "ensemble", "50.00 (1/2)", "100.00 (1/1)", "0.00 (0/1)", "50.00 (2/4)"
    ]  # fmt: skip
    assert "over 4 questions with a confidence" in page.inner_text("body")
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    context.close()
