"""The playground page in a real Chromium against the real gateway (scripted generators, real SQLite)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlensemble.guard import check_sql

from .conftest import KEYS_ENV, Script, make_stack, serve

OSLO_COUNT = "SELECT count(*) FROM schools WHERE city = 'Oslo'"  # 2
OSLO_COUNT_ALT = "SELECT COUNT(id) FROM schools WHERE city='Oslo'"  # 2, other text
ALL_COUNT = "SELECT count(*) FROM schools"  # 4
DENIED = "SELECT load_extension('evil.so')"  # refused by the guard
QUESTION = "How many schools are in Oslo?"
TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def outside_origin(page: Any, base: str) -> list[str]:
    """Every request the page makes that leaves the gateway's origin (collected from now on)."""
    leaks: list[str] = []
    page.on("request", lambda r: leaks.append(r.url) if not r.url.startswith(base) else None)
    return leaks


def open_playground(page: Any, base: str) -> None:
    page.goto(base + "/")
    page.wait_for_selector("#database option", state="attached")


def ask(page: Any, db_id: str, question: str = QUESTION) -> None:
    page.select_option("#database", db_id)
    page.fill("#question", question)
    page.press("#question", "Enter")


def test_ask_shows_sql_result_and_groups(page: Any, db_root: Path, artifacts: Path) -> None:
    script = Script({"g1": [OSLO_COUNT, ALL_COUNT], "g2": [OSLO_COUNT_ALT, OSLO_COUNT]})
    with serve(make_stack(db_root, ["g1", "g2"]), script) as base:
        leaks = outside_origin(page, base)
        open_playground(page, base)
        assert page.evaluate("document.activeElement.id") == "question"
        assert page.locator("#database option").all_inner_texts() == ["schools", "shop"]
        assert page.locator("#model option").all_inner_texts() == ["ensemble", "g1", "g2"]
        page.select_option("#database", "schools")
        page.wait_for_selector("#schema .table-name:text-is('teachers')")
        assert page.locator("#schema .table-name").all_inner_texts() == ["schools", "teachers"]
        assert "schools.id" in page.inner_text("#schema")  # teachers.school_id → schools.id
        page.fill("#evidence", "Oslo refers to city = 'Oslo'")
        ask(page, "schools")
        page.wait_for_selector("#answer .chosen-sql")

        assert page.inner_text("#answer .chosen-sql") == OSLO_COUNT
        assert page.locator("#answer .chosen-sql .tok-keyword").all_inner_texts() == [
            "SELECT",
            "FROM",
            "WHERE",
        ]
        assert page.inner_text("#answer .chosen-sql .tok-string") == "'Oslo'"
        assert page.locator("table.result th").all_inner_texts() == ["count(*)"]
        assert page.locator("table.result td").all_inner_texts() == ["2"]
        assert page.inner_text("#answer .note") == "1 row"
        assert page.inner_text("#answer .confidence") == "Confidence 75%"
        groups = page.locator("ol.groups > li")
        assert groups.count() == 2
        assert "chosen" in groups.nth(0).inner_text()
        assert "Agreed: g1, g2 ×2" in groups.nth(0).inner_text()
        assert "Agreed: g1" in groups.nth(1).inner_text() and ALL_COUNT in groups.nth(1).inner_text()
        assert page.evaluate("document.activeElement.id") == "question"  # ready for the next question
        groups.nth(0).locator("summary").click()
        assert groups.nth(0).locator(".cand-name").all_inner_texts() == ["g1 #0", "g2 #0", "g2 #1"]
        page.screenshot(path=str(artifacts / "playground-answer.png"), full_page=True)

    assert script.asked[0]["messages"][0]["content"].count("Oslo refers to city = 'Oslo'") == 1
    assert leaks == []


def test_narrow_width_has_no_page_wide_scroll(browser: Any, db_root: Path, artifacts: Path) -> None:
    wide_sql = (
        "SELECT " + ", ".join(f"name AS a_rather_long_column_name_{i}" for i in range(12)) + " FROM schools"
    )
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    with serve(make_stack(db_root, ["g1"]), Script({"g1": [wide_sql]})) as base:
        open_playground(page, base)
        ask(page, "schools", "List every school name under twelve headings")
        page.wait_for_selector("table.result td")
        assert page.locator("table.result th").count() == 12
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths
        page.screenshot(path=str(artifacts / "playground-narrow.png"), full_page=True)
    context.close()


def test_unknown_database_is_shown_as_the_api_error(page: Any, db_root: Path, artifacts: Path) -> None:
    with serve(make_stack(db_root, ["g1"]), Script({"g1": [OSLO_COUNT]})) as base:
        open_playground(page, base)
        page.select_option("#database", "shop")
        page.wait_for_selector("#schema .table-name:text-is('products')")
        shutil.rmtree(db_root / "shop")  # gone between listing and asking
        with page.expect_response("**/v1/sql") as asked:
            ask(page, "shop")
        assert asked.value.status == 404
        page.wait_for_selector("#error:not([hidden])")
        text = page.inner_text("#error")
        assert "unknown database 'shop'" in text
        assert "HTTP 404" in text and "not_found_error" in text and "code database_not_found" in text
        assert page.is_hidden("#answer")
        page.screenshot(path=str(artifacts / "playground-unknown-db.png"), full_page=True)


def test_a_refused_candidate_shows_its_status_and_reason(page: Any, db_root: Path, artifacts: Path) -> None:
    with serve(make_stack(db_root, ["g1", "g2"]), Script({"g1": [OSLO_COUNT], "g2": [DENIED]})) as base:
        open_playground(page, base)
        page.fill("#question", QUESTION)
        page.press("#evidence", "Enter")  # Enter in the evidence field asks too
        page.wait_for_selector("#answer .outside")
        outside = page.locator("ul.outside > li")
        assert outside.count() == 2
        assert outside.locator(".cand-name").all_inner_texts() == ["g2 #0", "g2 #1"]
        assert outside.locator(".badge").all_inner_texts() == ["refused", "refused"]
        reason = check_sql(DENIED).reason
        assert reason and outside.locator(".cand-error").all_inner_texts() == [reason, reason]
        assert page.inner_text("#answer .chosen-sql") == OSLO_COUNT
        page.screenshot(path=str(artifacts / "playground-refused.png"), full_page=True)


def test_every_generator_failing_is_shown_as_an_error(page: Any, db_root: Path) -> None:
    with serve(make_stack(db_root, ["g1", "g2"]), Script({"g1": [], "g2": []})) as base:
        open_playground(page, base)
        ask(page, "schools")
        page.wait_for_selector("#error:not([hidden])")
        text = page.inner_text("#error")
        assert "every generator failed" in text and "HTTP 503" in text
        assert page.is_enabled("#ask")


def test_an_empty_question_is_not_sent(page: Any, db_root: Path) -> None:
    script = Script({"g1": [OSLO_COUNT]})
    with serve(make_stack(db_root, ["g1"]), script) as base:
        open_playground(page, base)
        page.press("#question", "Enter")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error") == "Type a question first."
    assert script.asked == []


def test_with_keys_the_page_asks_for_one_and_keeps_it_for_the_tab(
    browser: Any, db_root: Path, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYS_ENV, "right-key")
    with serve(make_stack(db_root, ["g1"], keys=True), Script({"g1": [OSLO_COUNT]})) as base:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(base + "/")
        page.wait_for_selector("#key-form:not([hidden])")
        assert page.evaluate("document.activeElement.id") == "api-key"
        assert page.locator("#database option").count() == 0
        page.screenshot(path=str(artifacts / "playground-key.png"))

        page.fill("#api-key", "wrong-key")
        page.press("#api-key", "Enter")
        page.wait_for_selector("#key-reason:has-text('invalid API key')")
        page.fill("#api-key", "right-key")
        page.press("#api-key", "Enter")
        page.wait_for_selector("#database option", state="attached")
        assert page.is_hidden("#key-form")
        assert page.evaluate("sessionStorage.getItem('sqlensemble.apiKey')") == "right-key"
        assert page.evaluate("localStorage.length") == 0
        ask(page, "schools")
        page.wait_for_selector("#answer .chosen-sql")
        assert page.inner_text("#answer .chosen-sql") == OSLO_COUNT

        other_tab = context.new_page()  # sessionStorage is per tab: a new tab asks again
        other_tab.goto(base + "/")
        other_tab.wait_for_selector("#key-form:not([hidden])")

        page.click("#forget-key")
        page.wait_for_selector("#key-form:not([hidden])")
        assert page.evaluate("sessionStorage.getItem('sqlensemble.apiKey')") is None
        context.close()


def test_rounds_and_selector_render_only_when_present(page: Any, db_root: Path) -> None:
    """One round and a selector not consulted show nothing; adaptive rounds and a consulted selector
    (as the gateway sends them with those settings) get their panels."""
    with serve(make_stack(db_root, ["g1"]), Script({"g1": [OSLO_COUNT]})) as base:
        open_playground(page, base)
        ask(page, "schools")
        page.wait_for_selector("#answer .chosen-sql")
        headings = page.locator("#answer h3").all_inner_texts()
        assert "Rounds" not in headings and "Selector decision" not in headings

        def with_trail(route: Any) -> None:
            body = route.fetch().json()
            body["sampling"]["rounds"] = [{"round": 1, "stop": None}, {"round": 2, "stop": "agreement"}]
            body["selection"] = {**body["selection"], "consulted": True, "answered_by": "selector",
                                 "reason": "selector overruled the vote", "vote_sql": OSLO_COUNT,
                                 "selector_cluster": 0, "vote_cluster": 1}  # fmt: skip
            route.fulfill(json=body)

        page.route("**/v1/sql", with_trail)
        page.press("#question", "Enter")
        page.wait_for_selector("#answer h3:text-is('Selector decision')")
        assert "selector overruled the vote" in page.inner_text("#answer")
        assert "Rounds" in page.locator("#answer h3").all_inner_texts()
        assert page.locator("#answer dl.value-map .tok-keyword").count() == 3


# Each SQL text must survive tokenizing unchanged, and markup in it must stay text.
HIGHLIGHT_CASES = [
    "SELECT a, \"b c\" FROM t WHERE x = 'it''s' -- note\nLIMIT 5",
    "select count(*) from [my table] where y <> 1.5e3 /* c */ and z || 'q'",
    "SELECT '<img src=x onerror=alert(1)>' AS \"<b>\"",
    "SELECT 'unterminated",
    "WITH r AS (SELECT 1) SELECT * FROM r; ☃ ` ?1 :name",
]


def test_the_highlighter_keeps_every_character_as_text(page: Any, db_root: Path) -> None:
    with serve(make_stack(db_root, ["g1"]), Script({"g1": [OSLO_COUNT]})) as base:
        open_playground(page, base)
        for sql in HIGHLIGHT_CASES:
            joined = page.evaluate("s => window.sqlHighlight.tokenize(s).map(t => t[1]).join('')", sql)
            assert joined == sql
            rendered = page.evaluate(
                "s => { const c = window.sqlHighlight.highlight(s);"
                " return [c.textContent, c.querySelectorAll('*:not(span)').length]; }",
                sql,
            )
            assert rendered == [sql, 0]
        kinds = page.evaluate("s => window.sqlHighlight.tokenize(s).map(t => t[0])", "SELECT max(a) FROM t")
        assert kinds == [
            "keyword",
            "space",
            "function",
            "punctuation",
            "name",
            "punctuation",
            "space",
            "keyword",
            "space",
            "name",
        ]
