"""``report.html``: written beside ``report.md`` by every run, self-contained, its numbers a recount."""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from scripted_gateway import examples_of

from sqlensemble.eval.outputs import write_outputs
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.eval.report_html import HTML_FILE, write_html_report
from sqlensemble.eval.store import STORE_FILE, build_store

MakeRecord = Callable[..., QuestionRecord]
# (confidence, correct, latency_ms) per question
QUESTIONS = [
    (1.0, True, 120.0),
    (1.0, True, 80.0),
    (1.0, True, 95.0),
    (1.0, False, 400.0),
    (0.5, True, 150.0),
    (0.5, False, 210.0),
    (0.25, False, 60.0),
]
HEADINGS = [
    "Execution accuracy (EX, %)",
    "EX by difficulty",
    "Ensemble against each system (paired bootstrap)",
    "Calibration",
    "Agreement",
    "Latency",
    "Candidate status",
    "Flags",
]


def judged_records(make_record: MakeRecord) -> list[QuestionRecord]:
    records = []
    for position, (confidence, correct, latency) in enumerate(QUESTIONS):
        record = make_record(position, sql="SELECT 1", correct=correct)
        ensemble = record.ensemble.model_copy(update={"confidence": confidence})
        records.append(record.model_copy(update={"ensemble": ensemble, "latency_ms": latency}))
    return records


def png_size(data_uri: str) -> tuple[int, int]:
    png = base64.b64decode(data_uri.removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def images(page: str) -> list[str]:
    return re.findall(r'<img alt="[^"]*" src="([^"]+)"', page)


def test_the_page_is_self_contained_and_recounts(make_record: MakeRecord, tmp_path: Path) -> None:
    records = judged_records(make_record)
    build_store(tmp_path / STORE_FILE, records, examples_of(records, tmp_path / "x.sqlite"))
    path = write_html_report(tmp_path / STORE_FILE, tmp_path, "run <A&B>", ["model: <ensemble>"])
    page = path.read_text(encoding="utf-8")

    assert path.name == HTML_FILE
    assert re.findall(r"<h2>([^<]+)</h2>", page) == HEADINGS
    assert "<h1>run &lt;A&amp;B&gt;</h1>" in page and "<li>model: &lt;ensemble&gt;</li>" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    sources = images(page)
    assert len(sources) == 4  # EX by difficulty, calibration, agreement, latency
    assert all(w > 100 and h > 100 for w, h in map(png_size, sources))
    # 7 questions, ensemble right on 4: 57.14 %; confidence bins recounted by hand
    assert "57.14 (4/7)" in page
    assert "<td>[0.2, 0.4)</td><td>1</td><td>0.250</td><td>0.00 (0/1)</td>" in page
    assert "<td>[0.4, 0.6)</td><td>2</td><td>0.500</td><td>50.00 (1/2)</td>" in page
    assert "<td>[0.8, 1.0]</td><td>4</td><td>1.000</td><td>75.00 (3/4)</td>" in page
    assert "Expected calibration error: 0.179 over 7 questions" in page  # (0.25 + 0 + 4 * 0.25) / 7


def test_the_page_states_the_thesis_and_intervals_of_report_md(
    make_record: MakeRecord, tmp_path: Path
) -> None:
    records = judged_records(make_record)
    write_outputs(tmp_path, examples_of(records, tmp_path / "x.sqlite"), records, ["data: test"])
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / HTML_FILE).read_text(encoding="utf-8")
    thesis = re.search(r"\*\*Thesis:\*\* (.+)", markdown)
    assert thesis is not None and f"<strong>Thesis:</strong> {thesis.group(1)}</p>" in page
    rows = re.findall(
        r"^\| (\S+ (?:first|majority)|oracle) \| ([\d.]+) \| ([+-][\d.]+) \| (.+) \|$", markdown, re.M
    )
    assert rows  # every comparison row of report.md, cell for cell
    for row in rows:
        assert "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" in page


def test_an_empty_run_still_renders(tmp_path: Path) -> None:
    build_store(tmp_path / STORE_FILE, [], [])
    page = write_html_report(tmp_path / STORE_FILE, tmp_path, "empty", []).read_text(encoding="utf-8")
    assert "No answered questions." in page
    assert "Expected calibration error: – over 0 questions" in page
    assert all(w > 0 for w, _ in map(png_size, images(page)))


@pytest.mark.parametrize("name", ["report.md", "report.png", HTML_FILE])
def test_every_run_writes_the_html_beside_the_markdown(
    name: str, make_record: MakeRecord, tmp_path: Path
) -> None:
    records = judged_records(make_record)
    write_outputs(tmp_path, examples_of(records, tmp_path / "x.sqlite"), records, ["data: test"])
    assert (tmp_path / name).stat().st_size > 0
