"""``sqlensemble train selector``: a selection model trained on what the project's own generators write.

1. **The data pass.** A seeded subset of the training questions (``selector.questions``) is asked of the
   trained generators through the gateway, so every candidate takes the path it takes in production:
   prompt, ``n`` samples, extraction, guard, read-only execution, grouping. ``sqlensemble serve`` is
   started on the selector's stack file with its databases replaced by the training split's and
   selection left to the vote, and the questions go through ``sqlensemble eval`` into
   ``RUN/selector-data`` (``results.jsonl``, resumable like any evaluation, with its report), which judges
   every candidate, and so every group, against the gold SQL.
2. **The dataset** (``RUN/datasets/selector.jsonl``). A question is kept when its candidates fall into
   at least two groups and one of the groups the selector would be shown (the vote's best
   :data:`~sqlensemble.selection.MAX_GROUPS`) is correct. Each kept question gives ``permutations``
   examples, each showing the groups in another order drawn from the question
   (:func:`~sqlensemble.selection.display_order`; the first is the order the gateway will use), so
   neither the position nor the label of the vote's winner or of the right group carries information.
   The completion is the right group's label.
3. **The model**: a LoRA fine-tune of the base (TRL SFT, as the generators), merged, and recorded in
   ``generators.yaml`` with role ``selector``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlensemble.bird import Example, load_examples, locate_split
from sqlensemble.catalog import Catalog
from sqlensemble.eval.records import QuestionRecord
from sqlensemble.selection import LABELS, MAX_GROUPS, Group, build_selector_messages, display_order, order_key
from sqlensemble.stack import PromptConfig, load_stack, schema_view
from sqlensemble.train.assemble import Record
from sqlensemble.train.config import Preset, SelectorSettings
from sqlensemble.train.errors import MissingInputError, PresetError, StepFailedError
from sqlensemble.train.rundir import manifest_path

DATA_DIR = "selector-data"
SUBSET_FILE = "questions.json"
READY_TIMEOUT_S = 900.0


def data_dir(run: Path) -> Path:
    """``RUN/selector-data``: the data pass's evaluation run."""
    return run / DATA_DIR


def settings(preset: Preset) -> SelectorSettings:
    if preset.selector is None:
        raise PresetError(f"preset {preset.name!r} has no selector section")
    return preset.selector


def pick_questions(count: int, wanted: int, seed: int) -> list[int]:
    """Positions of a seeded subset of ``wanted`` questions out of ``count``, in dataset order.

    >>> pick_questions(10, 3, 0) == pick_questions(10, 3, 0), pick_questions(4, 9, 0)
    (True, [0, 1, 2, 3])
    """
    if wanted >= count:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), wanted))


def write_subset(
    data: Path, out: Path, wanted: int, seed: int, *, write: bool = True
) -> tuple[Path, Path, int]:
    """Write the subset of ``data``'s questions as a BIRD file ``out/questions.json`` (unless ``write`` is
    false: a dry run); returns its path, the split's database root and how many questions it holds."""
    questions, db_root = locate_split(data)
    try:
        records = json.loads(questions.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MissingInputError(f"cannot read {questions}: {e}") from e
    if not isinstance(records, list) or not records:
        raise MissingInputError(f"{questions}: expected a non-empty JSON list of examples")
    chosen = [records[p] for p in pick_questions(len(records), wanted, seed)]
    path = out / SUBSET_FILE
    if not write:
        return path, db_root, len(chosen)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(chosen, ensure_ascii=False, indent=1) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path, db_root, len(chosen)


def stack_env(run: Path, db_root: Path) -> dict[str, str]:
    """The stack-file overrides of the data pass: the training split's databases, the run's manifest,
    and the vote alone (the selector is what is being trained)."""
    return {
        "SQLENSEMBLE_DATABASES__ROOT": str(db_root.resolve()),
        "SQLENSEMBLE_SERVE__MANIFEST": str(manifest_path(run).resolve()),
        "SQLENSEMBLE_SELECTION__MODE": "vote",
    }


def eval_argv(subset: Path, db_root: Path, gateway: str, out: Path, config: SelectorSettings) -> list[str]:
    """The ``sqlensemble eval`` arguments of the data pass."""
    argv = ["eval", "--data", str(subset), "--db-root", str(db_root), "--gateway", gateway]
    argv += ["--out", str(out), "--concurrency", str(config.concurrency)]
    if config.n is not None:
        argv += ["--n", str(config.n)]
    if config.temperature is not None:
        argv += ["--temperature", str(config.temperature)]
    return argv


def gateway_url(stack_file: Path) -> str:
    """Where the data pass reaches the stack's gateway (a wildcard bind address is reached on loopback).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "s.yaml"
    >>> _ = f.write_text("databases: {root: nowhere}\\ngenerators: [{name: g, base_url: 'http://h:1/v1', "
    ...                  "model: g}]\\ngateway: {host: 0.0.0.0, port: 8123}\\n")
    >>> gateway_url(f)
    'http://127.0.0.1:8123'
    """
    gateway = load_stack(stack_file, check_paths=False).gateway
    host = "127.0.0.1" if gateway.host in ("0.0.0.0", "::", "") else gateway.host
    return f"http://{host}:{gateway.port}"


def run_data_pass(preset: Preset, run: Path, data: Path, *, dry_run: bool = False) -> Path:
    """Ask the subset of training questions through a stack started for it; returns ``results.jsonl``.

    Questions an earlier pass answered are not asked again; when all are answered no stack is started.
    """
    from sqlensemble.eval.results import RESULTS_FILE
    from sqlensemble.eval.runner import load_state, pending
    from sqlensemble.serve.background import start_stack, stop, wait_ready

    config = settings(preset)
    out = data_dir(run)
    subset, db_root, count = write_subset(data, out, config.questions, config.seed, write=not dry_run)
    url = gateway_url(config.stack)
    argv = [sys.executable, "-m", "sqlensemble.cli", *eval_argv(subset, db_root, url, out, config)]
    env = stack_env(run, db_root)
    if dry_run:
        overrides = " ".join(f"{k}={v}" for k, v in env.items())
        print(f"# selector data pass: {count} training questions")
        print(f"{overrides} sqlensemble serve --config {config.stack}")
        print("sqlensemble " + " ".join(argv[3:]))
        return out / RESULTS_FILE
    examples = load_examples(subset, db_root)
    if not pending(examples, load_state(out, examples).answered):
        print(f"selector data pass: all {count} questions answered earlier ({out})", file=sys.stderr)
        return out / RESULTS_FILE
    proc = start_stack(config.stack, env)
    try:
        wait_ready(url, proc, READY_TIMEOUT_S)
        print("+ " + " ".join(argv[2:]), flush=True)
        subprocess.run(argv, check=True)
    except RuntimeError as e:
        raise StepFailedError(f"selector data pass: {e}") from e
    except subprocess.CalledProcessError as e:
        raise StepFailedError(
            f"selector data pass: sqlensemble eval exited with code {e.returncode} (answered questions are "
            "kept; run again to resume)"
        ) from e
    finally:
        stop(proc)
    return out / RESULTS_FILE


@dataclass(frozen=True)
class DatasetSummary:
    """What the data pass gave: questions asked, with one group, with no right group shown, kept."""

    asked: int
    one_group: int
    none_right: int
    kept: int
    examples: int
    vote_right: int  # of the kept questions, those where the vote's group (cluster 0) is the right one
    labels: dict[str, int]

    def render(self) -> str:
        """One line for the training summary.

        >>> DatasetSummary(10, 5, 2, 3, 6, 2, {"A": 3, "B": 3}).render()
        'selector data: 10 questions asked, 5 with one group, 2 with no right group among the best 4, 3 kept (the vote right on 2) -> 6 examples, labels A 3, B 3'
        """  # noqa: E501
        labels = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))
        return (
            f"selector data: {self.asked} questions asked, {self.one_group} with one group, "
            f"{self.none_right} with no right group among the best {MAX_GROUPS}, {self.kept} kept "
            f"(the vote right on {self.vote_right}) -> {self.examples} examples, labels {labels}"
        )


def record_groups(record: QuestionRecord) -> tuple[list[Group], list[bool]]:
    """The groups the selector is shown for one answered question (vote rank order, at most
    :data:`MAX_GROUPS`) and whether each is right (its candidates were judged correct)."""
    right = {c.cluster for c in record.candidates if c.cluster is not None and c.correct}
    shown = sorted(record.clusters, key=lambda c: c.id)[:MAX_GROUPS]
    groups = [
        Group(
            sql=c.sql or "",
            columns=tuple(c.columns),
            rows=tuple(tuple(row) for row in c.preview),
            row_count=c.row_count,
            votes=c.size,
        )
        for c in shown
    ]
    return groups, [c.id in right for c in shown]


def selector_records(
    records: Sequence[QuestionRecord],
    examples: dict[str, Example],
    schema_text: Any,
    prompt: PromptConfig,
    permutations: int,
) -> tuple[list[Record], DatasetSummary]:
    """The selector's training examples (conversational prompt-completion) and what was kept.

    ``schema_text(db_id)`` renders a database's schema as the gateway renders it for the selector.
    """
    out: list[Record] = []
    one_group = none_right = kept = vote_right = 0
    labels: Counter[str] = Counter()
    for record in records:
        groups, right = record_groups(record)
        if len(groups) < 2:
            one_group += 1
            continue
        if not any(right):
            none_right += 1
            continue
        kept += 1
        answer = right.index(True)
        vote_right += answer == 0
        example = examples[str(record.question_id)]
        seen: set[tuple[int, ...]] = set()
        for p in range(permutations):
            order = display_order(len(groups), order_key(record.db_id, record.question, str(p) if p else ""))
            if tuple(order) in seen:
                continue
            seen.add(tuple(order))
            label = LABELS[order.index(answer)]
            labels[label] += 1
            messages = build_selector_messages(
                prompt.dialect, schema_text(record.db_id), record.question, example.evidence, groups, order
            )
            out.append({"prompt": messages, "completion": [{"role": "assistant", "content": label}]})
    summary = DatasetSummary(len(records), one_group, none_right, kept, len(out), vote_right, dict(labels))
    return out, summary


def build_dataset(preset: Preset, run: Path, data: Path, results: Path, out: Path) -> DatasetSummary:
    """Write ``out`` (the selector's JSONL) from the data pass's judged answers."""
    from sqlensemble.eval.results import read_results
    from sqlensemble.train.assemble import write_jsonl

    config = settings(preset)
    subset, db_root, _ = write_subset(data, data_dir(run), config.questions, config.seed)
    examples = {str(e.question_id): e for e in load_examples(subset, db_root)}
    records = [r for r in read_results(results) if str(r.question_id) in examples]
    if not records:
        raise MissingInputError(f"{results}: no answered questions (the data pass asked none)")
    catalog = Catalog(db_root)
    view = schema_view(preset.prompt)

    def schema_text(db_id: str) -> str:
        return catalog.schema_text(db_id, *view)

    rows, summary = selector_records(records, examples, schema_text, preset.prompt, config.permutations)
    if not rows:
        raise MissingInputError(f"{summary.render()}: nothing to train the selector on")
    write_jsonl(iter(rows), out)
    return summary
