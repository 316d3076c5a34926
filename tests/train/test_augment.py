"""Augmentation invariants: gold identifiers kept, determinism, levels ordered by how much they change."""

from __future__ import annotations

import difflib
import random
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from sqlensemble.catalog import Catalog
from sqlensemble.prompts import build_messages
from sqlensemble.schema import Column, ForeignKey, SchemaInfo, Table, render_schema
from sqlensemble.stack import PromptConfig
from sqlensemble.train.assemble import generator_records, load_training_data
from sqlensemble.train.augment import (
    ORIGINAL,
    AugmentLevel,
    augment,
    filter_unused,
    permute_mschema,
    used_identifiers,
    variants,
)
from sqlensemble.train.config import load_generators, load_levels

CASES = yaml.safe_load((Path(__file__).parent / "data" / "used_identifiers.yaml").read_text())
PROMPT = PromptConfig()
EVERYTHING = AugmentLevel(
    name="everything",
    copies=8,
    shuffle_tables=1.0,
    shuffle_columns=1.0,
    shuffle_foreign_keys=1.0,
    filter_schema=1.0,
    keep_tables=0.0,
    keep_columns=0.0,
    permute=1.0,
    vary_examples=1.0,
)


@pytest.mark.parametrize("case", CASES, ids=[c["sql"][:40] for c in CASES])
def test_used_identifiers(case: dict) -> None:
    used = used_identifiers(case["sql"])
    if case["tables"] is None:
        assert used is None
        return
    assert used is not None
    assert sorted(used.tables) == case["tables"]
    assert sorted(used.columns) == case["columns"]
    assert used.all_columns is case["all_columns"]


def _names(schema) -> dict[str, set[str]]:
    return {t.name.lower(): {c.name.lower() for c in t.columns} for t in schema.tables}


def test_gold_tables_and_columns_always_kept(mini_bird: Path) -> None:
    data = load_training_data(mini_bird)
    catalog = Catalog(data.db_root)
    dropped_something = False
    for example in data.examples:
        schema = catalog.schema(example.db_id)
        used = used_identifiers(example.sql)
        assert used is not None
        for seed in range(20):
            for variant in variants(schema, example.sql, EVERYTHING, random.Random(seed)):
                kept = _names(variant.schema)
                for table in used.tables & set(_names(schema)):
                    assert table in kept, (example.sql, table)
                    expected = (
                        _names(schema)[table] if used.all_columns else used.columns & _names(schema)[table]
                    )
                    assert expected <= kept[table], (example.sql, table)
                dropped_something |= sum(map(len, kept.values())) < sum(map(len, _names(schema).values()))
    assert dropped_something


def test_filter_unused_keeps_primary_keys_and_star_tables(mini_bird: Path) -> None:
    data = load_training_data(mini_bird)
    schema = Catalog(data.db_root).schema("shop")
    used = used_identifiers("SELECT * FROM orders")
    assert used is not None
    for seed in range(10):
        out = filter_unused(schema, used, random.Random(seed), keep_tables=0.0, keep_columns=0.0)
        assert _names(out)["orders"] == _names(schema)["orders"]
        for table in out.tables:
            assert all(c.name in {x.name for x in table.columns} for c in table.columns if c.primary_key)


def test_filter_unused_drops_the_foreign_keys_of_what_it_drops() -> None:
    schema = SchemaInfo(
        "s",
        (
            Table("a", (Column("id", "INTEGER", primary_key=True), Column("b_id", "INTEGER"))),
            Table("B", (Column("id", "INTEGER", primary_key=True),)),
        ),
        (ForeignKey("a", "b_id", "b", "id"), ForeignKey("a", "id", "gone", "id")),
    )
    used = used_identifiers("SELECT id FROM a")
    assert used is not None
    out = filter_unused(schema, used, random.Random(0), keep_tables=0.0, keep_columns=0.0)
    assert [t.name for t in out.tables] == ["a"]
    # The key into the dropped table "B" (written "b") goes; the dangling one the file had stays.
    assert out.foreign_keys == (ForeignKey("a", "id", "gone", "id"),)
    assert render_schema(out).endswith("【Foreign keys】\na.id=gone.id")


def test_filter_keeps_unused_tables_and_columns_at_the_seed_rates(mini_bird: Path) -> None:
    """The seed keeps each unused table with p=0.8 and each unused column of a kept table with p=0.7."""
    data = load_training_data(mini_bird)
    schema = Catalog(data.db_root).schema("shop")
    used = used_identifiers("SELECT COUNT(*) FROM orders")
    assert used is not None
    rng = random.Random(0)
    unused_tables = [t.name for t in schema.tables if t.name.lower() not in used.tables]
    kept_tables = kept_columns = offered_columns = 0
    for _ in range(2000):
        out = filter_unused(schema, used, rng, keep_tables=0.8, keep_columns=0.7)
        kept_tables += sum(t.name in unused_tables for t in out.tables)
        for table in out.tables:
            original = next(t for t in schema.tables if t.name == table.name)
            optional = [c for c in original.columns if not c.primary_key]
            offered_columns += len(optional)
            kept_columns += sum(not c.primary_key for c in table.columns)
    assert unused_tables and offered_columns
    assert abs(kept_tables / (2000 * len(unused_tables)) - 0.8) < 0.03
    assert abs(kept_columns / offered_columns - 0.7) < 0.03


def test_augment_permutes_example_labels_and_cleans_the_sql(mini_bird: Path) -> None:
    data = load_training_data(mini_bird)
    example = data.examples[0]
    schema = Catalog(data.db_root).schema(example.db_id)
    used = used_identifiers(example.sql)
    sql = example.sql + " -- a comment"
    outs = [augment(schema, sql, used, EVERYTHING, random.Random(s)) for s in range(200)]
    labels = {o.permutation.examples_label for o in outs}
    assert {"Examples:", "Value examples:"} <= labels and len(labels) >= 4
    assert {o.permutation.indent for o in outs} == {"", "  "}
    assert all(o.sql.strip() == example.sql.strip() for o in outs)
    assert len({o.max_examples for o in outs}) > 1
    text = render_schema(schema)
    assert permute_mschema(text, ORIGINAL) == text
    permuted = {permute_mschema(text, o.permutation) for o in outs}
    assert len(permuted) > 4 and all(p.count("\n") == text.count("\n") for p in permuted)


def test_levels_have_the_seed_sizes() -> None:
    levels = load_levels()
    assert {name: levels[name].copies for name in ("heavy", "moderate", "light", "none")} == {
        "heavy": 4,
        "moderate": 2,
        "light": 1,
        "none": 0,
    }
    assert all(levels[name].keep_original for name in levels)


def test_same_seed_same_output_other_seed_differs(mini_bird: Path) -> None:
    data = load_training_data(mini_bird)
    heavy = load_levels()["heavy"]

    def records(seed: int) -> list:
        return list(generator_records(data, Catalog(data.db_root), heavy, seed, PROMPT))

    assert records(7) == records(7)
    assert records(7) != records(8)


def _change(level: AugmentLevel, mini_bird: Path) -> float:
    """Mean share of the original prompt text that a level's records change (originals count as 0)."""
    data = load_training_data(mini_bird)
    catalog = Catalog(data.db_root)
    originals = {}
    for e in data.examples:
        text = render_schema(catalog.schema(e.db_id))
        originals[e.question] = build_messages(PROMPT.template, PROMPT.dialect, text, e.question, e.evidence)
    scores = []
    for seed in range(5):
        for record in generator_records(data, catalog, level, seed, PROMPT):
            prompt = record["prompt"][0]["content"]
            question = next(q for q in originals if f"\n{q}\n" in prompt)
            original = originals[question][0]["content"]
            scores.append(1.0 - difflib.SequenceMatcher(None, original, prompt, autojunk=False).ratio())
    return sum(scores) / len(scores)


def test_levels_are_ordered_by_how_much_they_change(mini_bird: Path) -> None:
    levels = load_levels()
    changes = [_change(levels[name], mini_bird) for name in ("heavy", "moderate", "light", "none")]
    assert changes[0] > changes[1] > changes[2] > changes[3] == 0.0
    copies = [levels[name].copies for name in ("heavy", "moderate", "light", "none")]
    assert copies == sorted(copies, reverse=True) and copies[-1] == 0


def test_generators_cover_the_four_levels() -> None:
    specs = load_generators()
    assert [s.level for s in specs] == ["heavy", "moderate", "light", "none"]
    assert len({s.seed for s in specs}) == 4


def test_original_record_is_the_shared_prompt_and_bare_sql(mini_bird: Path) -> None:
    data = load_training_data(mini_bird)
    catalog = Catalog(data.db_root)
    none = replace(load_levels()["none"])
    records = list(generator_records(data, catalog, none, 0, PROMPT))
    assert len(records) == len(data.examples)
    for example, record in zip(data.examples, records, strict=True):
        schema_text = catalog.schema_text(example.db_id, style="mschema")
        expected = build_messages(
            PROMPT.template, PROMPT.dialect, schema_text, example.question, example.evidence
        )
        assert record["prompt"] == expected
        assert record["prompt"][0]["content"].endswith("```sql")
        assert record["completion"] == [{"role": "assistant", "content": example.sql}]


def test_a_schema_order_renders_every_record_in_that_order(mini_bird: Path) -> None:
    """A generator trained with ``prompt.schema_order`` sees the order the gateway will show it."""
    data = load_training_data(mini_bird)
    catalog = Catalog(data.db_root)
    ordered = PROMPT.model_copy(update={"schema_order": 3})
    records = list(generator_records(data, catalog, replace(load_levels()["none"]), 0, ordered))
    moved = 0
    for example, record in zip(data.examples, records, strict=True):
        schema_text = catalog.schema_text(example.db_id, "mschema", None, 3)
        expected = build_messages(
            PROMPT.template, PROMPT.dialect, schema_text, example.question, example.evidence
        )
        assert record["prompt"] == expected
        moved += schema_text != catalog.schema_text(example.db_id, "mschema")
    assert moved > 0
