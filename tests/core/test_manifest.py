"""The training manifest in the core: reading it into one ConfigError, and the prompt check that serve
and the gateway run before they use a stack file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlensemble.errors import ConfigError
from sqlensemble.manifest import check_prompts, load_manifest, planned_manifest, prompt_mismatches
from sqlensemble.stack import parse_stack

TRAINED = {"template": "xiyan_zh", "dialect": "SQLite", "schema_style": "mschema", "max_examples": 0}
ENTRY = {
    "name": "g",
    "level": "heavy",
    "adapter_path": "/a",
    "merged_path": None,
    "lora_rank": 8,
    "lora_alpha": 16,
    "prompt": TRAINED,
}
HEAD = {"preset": "cpu-tiny", "base_model": "/b", "tokenizer": "/b"}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "generators.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**HEAD, "generators": [ENTRY, ENTRY]}, "duplicate generator names: g"),
        ({**HEAD, "generators": []}, "lists no generators"),
        ({**HEAD, "generators": [{"name": "g"}]}, r"generators\.0\.adapter_path: Field required"),
        (
            {**HEAD, "generators": [{k: v for k, v in ENTRY.items() if k != "prompt"}]},
            r"generators\.0\.prompt: Field required .*`sqlensemble train all` rewrites it",
        ),
        (
            {**HEAD, "generators": [{**ENTRY, "prompt": {**TRAINED, "template": "nope"}}]},
            r"generators\.0\.prompt\.template",
        ),
        ("- not a mapping", "generators.yaml: "),
    ],
    ids=["duplicates", "empty", "missing-field", "no-prompt", "bad-template", "not-a-mapping"],
)
def test_manifest_problems_are_one_config_error(data: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        load_manifest(write(tmp_path, data))


def test_missing_manifest_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no manifest at .*make train-generators"):
        load_manifest(tmp_path / "missing.yaml")


def _stack(tmp_path: Path, prompts: dict[str, dict[str, Any]]) -> Any:
    generators = [
        {"name": f"n_{model}", "base_url": "http://127.0.0.1:8100/v1", "model": model, "priority": i + 1,
         "prompt": prompt}
        for i, (model, prompt) in enumerate(prompts.items())
    ]  # fmt: skip
    return parse_stack({"databases": {"root": str(tmp_path)}, "generators": generators})


# stack prompt per served model -> the problems named (the manifest trains g and h with TRAINED)
CASES = [
    ({"g": TRAINED, "h": TRAINED}, []),
    ({"g": TRAINED, "base": {"max_examples": 3}}, []),  # not trained here: not compared
    (
        {"g": {**TRAINED, "max_examples": 3}},
        ["generator 'n_g': prompt.max_examples is 3 but model 'g' was trained with 0"],
    ),
    (
        {"g": TRAINED, "h": {"template": "xiyan_en", "schema_style": "ddl", "max_examples": 0}},
        [
            "generator 'n_h': prompt.template is 'xiyan_en' but model 'h' was trained with 'xiyan_zh'",
            "generator 'n_h': prompt.schema_style is 'ddl' but model 'h' was trained with 'mschema'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("prompts", "problems"), CASES, ids=["same", "untrained-model", "field", "two-fields"]
)
def test_prompt_settings_are_compared_per_generator_and_field(
    prompts: dict[str, dict[str, Any]], problems: list[str], tmp_path: Path
) -> None:
    manifest = load_manifest(write(tmp_path, {**HEAD, "generators": [ENTRY, {**ENTRY, "name": "h"}]}))
    stack = _stack(tmp_path, prompts)
    assert prompt_mismatches(stack, manifest) == problems
    if problems:
        with pytest.raises(ConfigError, match=r"^stack\.yaml: generator 'n_"):
            check_prompts(stack, manifest, source="stack.yaml")
    else:
        check_prompts(stack, manifest)


SELECTING = {"mode": "model", "model": "sel", "base_url": "http://127.0.0.1:8100/v1"}


@pytest.mark.parametrize(
    ("selection", "problems"),
    [
        ({**SELECTING, "prompt": TRAINED}, []),
        (
            {**SELECTING, "prompt": {**TRAINED, "max_examples": 3}},
            ["selection: prompt.max_examples is 3 but model 'sel' was trained with 0"],
        ),
        ({**SELECTING, "mode": "vote", "prompt": {**TRAINED, "max_examples": 3}}, []),  # not consulted
    ],
    ids=["same", "field", "vote-mode"],
)
def test_the_selection_prompt_is_compared_with_the_selectors_entry(
    selection: dict[str, Any], problems: list[str], tmp_path: Path
) -> None:
    entries = [ENTRY, {**ENTRY, "name": "sel", "role": "selector"}]
    manifest = load_manifest(write(tmp_path, {**HEAD, "generators": entries}))
    stack = _stack(tmp_path, {"g": TRAINED})
    stack = parse_stack({**stack.model_dump(mode="json", exclude={"selection"}), "selection": selection})
    assert prompt_mismatches(stack, manifest) == problems


def test_a_planned_manifest_plans_the_selector_when_the_stack_selects(tmp_path: Path) -> None:
    serve = {"mode": "merged", "manifest": str(tmp_path / "run" / "generators.yaml")}
    data = {**_stack(tmp_path, {"g": TRAINED}).model_dump(mode="json", exclude={"serve"}), "serve": serve}
    voting = planned_manifest(parse_stack(data))
    assert [(g.name, g.role) for g in voting.generators] == [("g", "generator")]
    selecting = planned_manifest(parse_stack({**data, "selection": {**SELECTING, "prompt": TRAINED}}))
    assert [(g.name, g.role) for g in selecting.generators] == [("g", "generator"), ("sel", "selector")]
    (sel,) = [g for g in selecting.generators if g.role == "selector"]
    assert sel.merged_path == str(tmp_path / "run" / "merged" / "sel")
    assert sel.adapter_path == str(tmp_path / "run" / "adapters" / "sel" / "checkpoint-final")
    assert sel.prompt.max_examples == 0  # the selection's prompt, which check_prompts then agrees with
