"""``sqlensemble train``: assemble the datasets, build the CPU base, fine-tune and merge the generators.

    sqlensemble train all --preset cpu-tiny --data data/synth/train --run runs/cpu-tiny
    sqlensemble train assemble --data data/synth/train --out runs/cpu-tiny/datasets --preset cpu-tiny
    sqlensemble train base --preset cpu-tiny --data data/synth/train --run runs/cpu-tiny
    sqlensemble train sft --preset cpu-tiny --generator sqlg1_heavy_aug --run runs/cpu-tiny [--resume]
    sqlensemble train merge --preset cpu-tiny --generator sqlg1_heavy_aug --run runs/cpu-tiny

``all`` (what ``make train-generators`` runs) does each step that is missing: it assembles the
datasets, builds the base when the preset makes its own, trains and merges every generator that has
no ``checkpoint-final`` and merged model yet, and writes ``RUN/generators.yaml``. Inputs are checked
before any training starts; a user mistake is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlensemble.errors import SqlEnsembleError
from sqlensemble.train import assemble as assembly
from sqlensemble.train import rundir
from sqlensemble.train.config import (
    SELECTOR_NAME,
    GeneratorSpec,
    Preset,
    find_generator,
    load_generators,
    load_levels,
    load_preset,
    preset_names,
)
from sqlensemble.train.errors import PresetError, StepFailedError

PROG = "sqlensemble train"


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    presets = ", ".join(preset_names())

    def common(p: argparse.ArgumentParser, *, run: bool = True, preset_required: bool = True) -> None:
        p.add_argument(
            "--preset", required=preset_required, default="cpu-tiny", help=f"name ({presets}) or YAML path"
        )
        if run:
            p.add_argument(
                "--run", type=Path, required=True, help="run folder (datasets, base, adapters, merged)"
            )

    p = sub.add_parser("assemble", help="write the four generators' training datasets (JSONL)")
    common(p, run=False, preset_required=False)
    p.add_argument("--data", type=Path, required=True, help="BIRD-format split folder, e.g. data/synth/train")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. RUN/datasets")
    p.add_argument(
        "--tokenizer", help="tokenizer for the prompt-length figures (default: the preset's, if local)"
    )

    p = sub.add_parser("base", help="train the tokenizer and the small base model (CPU presets)")
    common(p)
    p.add_argument("--data", type=Path, required=True, help="BIRD-format split folder (assembled if needed)")

    for step, help_ in (("sft", "LoRA fine-tune one generator"), ("merge", "merge one generator's adapter")):
        p = sub.add_parser(step, help=help_)
        common(p)
        p.add_argument("--generator", required=True, help="generator name, e.g. sqlg1_heavy_aug")
        p.add_argument("--base", help="base model path or HF id (default: the preset's)")
        if step == "sft":
            _training_options(p)
            p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")

    p = sub.add_parser(
        "checksums", help="recompute the trained artefacts' checksums, compare generators.yaml"
    )
    p.add_argument("--run", type=Path, required=True, help="run folder holding generators.yaml")
    p.add_argument("--against", type=Path, help="another run folder: compare its recorded checksums too")

    p = sub.add_parser(
        "selector", help="the selection model: data pass through the gateway, LoRA fine-tune, merge"
    )
    common(p)
    p.add_argument("--data", type=Path, required=True, help="BIRD-format split folder, e.g. data/synth/train")
    _training_options(p)

    p = sub.add_parser("all", help="every missing step, for all four generators (and the selector)")
    common(p)
    p.add_argument("--data", type=Path, required=True, help="BIRD-format split folder, e.g. data/synth/train")
    p.add_argument(
        "--without-selector", action="store_true", help="skip the selector even if the preset has one"
    )
    _training_options(p)
    return parser


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override an SFTConfig field"
    )
    p.add_argument("--num-gpus", type=int, help="GPUs to train on (default: the visible ones)")
    p.add_argument("--dry-run", action="store_true", help="print the launch command(s) and exit")


# ------------------------------------------------------------------------------------------------
# steps


def _token_counter(tokenizer: str | None) -> assembly.TokenCounter | None:
    if tokenizer is None:
        return None
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    except (OSError, ValueError):
        return None

    def count(texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]

    return count


def _default_tokenizer(preset: Preset, run: Path) -> str | None:
    base = preset.base_model_for(run)
    return base if preset.base_model is not None or (Path(base) / "tokenizer.json").is_file() else None


def print_stats(prompts: dict[str, list[str]], tokenizer: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    counter = _token_counter(tokenizer)
    stats = [assembly.prompt_stats(name, texts, counter) for name, texts in prompts.items()]
    unit = stats[0].unit if stats else "tokens"
    table = Table(title=f"training datasets (prompt length in {unit})")
    for column in ("dataset", "examples", f"mean prompt {unit}", f"max prompt {unit}"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for s in stats:
        table.add_row(s.name, str(s.examples), f"{s.mean_prompt_tokens:.0f}", str(s.max_prompt_tokens))
    Console(stderr=True).print(table)


def run_assemble(preset: Preset, data: Path, out: Path) -> dict[str, list[str]]:
    base = (preset.base.level, preset.base.seed) if preset.base is not None else None
    generators = load_generators()
    prompts = {g.name: preset.prompt_for(g.name) for g in generators}
    return assembly.assemble(data, out, generators, load_levels(), preset.prompt, base=base, prompts=prompts)


def _datasets_ready(preset: Preset, run: Path) -> bool:
    names = [g.name for g in load_generators()] + ([rundir.BASE_DATASET] if preset.base is not None else [])
    return rundir.datasets_done(run, names)


def _ensure_datasets(preset: Preset, data: Path, run: Path) -> dict[str, list[str]] | None:
    """Assemble the datasets unless they are all there; returns the new prompts, if any."""
    return None if _datasets_ready(preset, run) else run_assemble(preset, data, rundir.datasets_dir(run))


def _sft_argv(args: argparse.Namespace, name: str, resume: bool) -> list[str]:
    argv = ["--preset", args.preset, "--generator", name, "--run", str(args.run.resolve())]
    argv += [f"--set={item}" for item in args.set]
    if getattr(args, "base", None):
        argv += ["--base", args.base]
    if resume:
        argv.append("--resume")
    return argv


def _gpus(args: argparse.Namespace) -> int:
    if args.num_gpus is not None:
        return int(args.num_gpus)
    from sqlensemble.train.sft import visible_gpus

    return visible_gpus()


def _launch_if_distributed(
    args: argparse.Namespace, preset: Preset, spec: GeneratorSpec, resume: bool
) -> int | None:
    """Run (or print) the accelerate launch for >1 GPU; ``None`` when training stays in this process."""
    from sqlensemble.train.sft import format_command, is_launched, launch_command

    if is_launched() or _gpus(args) <= 1:
        if args.dry_run:
            from sqlensemble.train.sft import sft_kwargs

            kwargs = sft_kwargs(preset.sft, rundir.adapter_dir(args.run, spec.name), spec.seed, {})
            argv = format_command(_sft_argv(args, spec.name, resume))
            print(f"# single process: sqlensemble train sft {argv}")
            print(f"# SFTConfig: {kwargs}")
            return 0
        return None
    command = launch_command(
        _sft_argv(args, spec.name, resume), _gpus(args), bool(preset.sft.get("bf16", False))
    )
    print(format_command(command), flush=True)
    if args.dry_run:
        return 0
    return subprocess.call(command)


def _trains_here(args: argparse.Namespace) -> bool:
    """Whether this process itself will train (not a dry run, not a launcher of other processes)."""
    from sqlensemble.train.sft import is_launched

    return not args.dry_run and (is_launched() or _gpus(args) <= 1)


def check_inputs(
    args: argparse.Namespace, preset: Preset, generators: Sequence[GeneratorSpec]
) -> dict[str, Any]:
    """Everything training will need, checked before any work; returns the parsed ``--set`` overrides.

    The preset (already loaded), the overrides and every generator's ``SFTConfig``, the augmentation
    levels, the run folder, the data folder (when the step reads one) and the base model.
    """
    from sqlensemble.train.base import base_settings
    from sqlensemble.train.sft import check_base_model, check_sft_configs, parse_overrides

    overrides = parse_overrides(args.set)
    rundir.check_run_folder(args.run)
    load_levels()
    if getattr(args, "data", None) is not None:
        assembly.load_training_data(args.data)
    if getattr(args, "base", None):
        check_base_model(args.base)
    elif preset.base is not None:
        base_settings(preset)
        if args.step != "all":  # `all` builds the base itself
            check_base_model(preset.base_model_for(args.run))
    else:
        check_base_model(preset.base_model_for(args.run))
    check_sft_configs(preset, args.run, generators, overrides, on_this_machine=_trains_here(args))
    return overrides


def _target(preset: Preset, name: str) -> tuple[Preset, GeneratorSpec]:
    """The preset and spec one ``sft``/``merge`` step trains: a generator, or the selector."""
    if name == SELECTOR_NAME:
        return preset.for_selector()
    return preset, find_generator(name)


def cmd_sft(args: argparse.Namespace, preset: Preset) -> int:
    from sqlensemble.train.sft import is_launched, train_generator

    preset, spec = _target(preset, args.generator)
    overrides = check_inputs(args, preset, [spec])
    if not args.dry_run and not is_launched():  # once, before any process of a multi-GPU launch
        base = args.base or preset.base_model_for(args.run)
        print(
            _filter_lengths(preset, rundir.datasets_dir(args.run), [spec.name], base, overrides),
            file=sys.stderr,
        )
    code = _launch_if_distributed(args, preset, spec, args.resume)
    if code is not None:
        return code
    final = train_generator(
        preset, spec, args.run, resume=args.resume, overrides=overrides, base_model=args.base
    )
    print(f"adapter: {final}")
    return 0


def cmd_merge(args: argparse.Namespace, preset: Preset) -> int:
    from sqlensemble.train.manifest import build_manifest, write_manifest
    from sqlensemble.train.merge import merge_generator

    tuned, spec = _target(preset, args.generator)
    out = merge_generator(tuned, spec, args.run, base_model=args.base)
    write_manifest(build_manifest(preset, args.run, load_generators()), args.run)
    print(f"merged: {out}")
    return 0


def cmd_base(args: argparse.Namespace, preset: Preset) -> int:
    from sqlensemble.train.base import base_settings, build_base

    base_settings(preset)
    assembly.load_training_data(args.data)
    prompts = _ensure_datasets(preset, args.data, args.run)
    out = build_base(preset, args.run, load_generators())
    if prompts is not None:
        print_stats(prompts, str(out))
    print(f"base: {out}")
    return 0


def cmd_all(args: argparse.Namespace, preset: Preset) -> int:
    from sqlensemble.train.base import build_base
    from sqlensemble.train.manifest import build_manifest, write_manifest
    from sqlensemble.train.merge import merge_generator
    from sqlensemble.train.sft import train_generator

    generators = load_generators()
    overrides = check_inputs(args, preset, generators)  # every input, before any work
    if preset.selector is not None and not args.without_selector:
        check_selector_inputs(args, preset, overrides)
    if args.dry_run:
        for spec in generators:
            _launch_if_distributed(args, preset, spec, True)
        if preset.selector is not None and not args.without_selector:
            _selector_steps(args, preset, overrides)
        return 0
    rows: list[tuple[str, str, str, str]] = []
    started = time.monotonic()
    t0 = time.monotonic()
    prompts = _ensure_datasets(preset, args.data, args.run)
    if prompts is not None:
        rows.append(("(datasets)", "-", "assembled", f"{time.monotonic() - t0:.0f}s"))
    if preset.base is not None and not rundir.base_done(args.run):
        t0 = time.monotonic()
        build_base(preset, args.run, generators)
        rows.append(("(base)", "-", "built", f"{time.monotonic() - t0:.0f}s"))
    pending = [s.name for s in generators if not rundir.adapter_done(args.run, s.name)]
    if pending:
        t0 = time.monotonic()
        lengths = _filter_lengths(
            preset, rundir.datasets_dir(args.run), pending, preset.base_model_for(args.run), overrides
        )
        rows.append(("(lengths)", "-", lengths, f"{time.monotonic() - t0:.0f}s"))
    for spec in generators:
        if rundir.adapter_done(args.run, spec.name) and rundir.merged_done(args.run, spec.name):
            rows.append((spec.name, spec.level, "done earlier", "-"))
            continue
        t0 = time.monotonic()
        if not rundir.adapter_done(args.run, spec.name):
            code = _launch_if_distributed(args, preset, spec, True)
            if code not in (None, 0):
                return int(code)
            if code is None:
                train_generator(preset, spec, args.run, resume=True, overrides=overrides)
        merge_generator(preset, spec, args.run)
        write_manifest(build_manifest(preset, args.run, generators), args.run)
        rows.append((spec.name, spec.level, "trained + merged", f"{time.monotonic() - t0:.0f}s"))
    if preset.selector is not None and not args.without_selector:
        rows += _selector_steps(args, preset, overrides)
    manifest = build_manifest(preset, args.run, generators)
    write_manifest(manifest, args.run)
    _print_summary(rows, rundir.manifest_path(args.run), time.monotonic() - started)
    _print_checksums(manifest.checksums())
    return 0


def _selector_steps(
    args: argparse.Namespace, preset: Preset, overrides: dict[str, Any]
) -> list[tuple[str, str, str, str]]:
    """The selector's missing steps (data pass, dataset, fine-tune, merge); the summary's rows.

    A dry run prints the data pass's commands and the fine-tune's launch instead."""
    from sqlensemble.train.manifest import build_manifest, write_manifest
    from sqlensemble.train.merge import merge_generator
    from sqlensemble.train.selector import build_dataset, run_data_pass
    from sqlensemble.train.sft import train_generator

    tuned, spec = preset.for_selector()
    dataset = rundir.dataset_path(rundir.datasets_dir(args.run), spec.name)
    if args.dry_run:
        run_data_pass(preset, args.run, args.data, dry_run=True)
        _launch_if_distributed(args, tuned, spec, True)
        return []
    if rundir.adapter_done(args.run, spec.name) and rundir.merged_done(args.run, spec.name):
        return [(spec.name, "selector", "done earlier", "-")]
    rows: list[tuple[str, str, str, str]] = []
    if not rundir.adapter_done(args.run, spec.name):
        t0 = time.monotonic()
        results = run_data_pass(preset, args.run, args.data)
        summary = build_dataset(preset, args.run, args.data, results, dataset)
        print(summary.render(), file=sys.stderr)
        rows.append(("(selector data)", "-", f"{summary.examples} examples", f"{time.monotonic() - t0:.0f}s"))
        lengths = _filter_lengths(
            tuned, rundir.datasets_dir(args.run), [spec.name], tuned.base_model_for(args.run), overrides
        )
        print(lengths, file=sys.stderr)
    t0 = time.monotonic()
    if not rundir.adapter_done(args.run, spec.name):
        code = _launch_if_distributed(args, tuned, spec, True)
        if code not in (None, 0):
            raise StepFailedError(f"the selector's fine-tune exited with code {code}")
        if code is None:
            train_generator(tuned, spec, args.run, resume=True, overrides=overrides)
    merge_generator(tuned, spec, args.run)
    write_manifest(build_manifest(preset, args.run, load_generators()), args.run)
    rows.append((spec.name, "selector", "trained + merged", f"{time.monotonic() - t0:.0f}s"))
    return rows


def cmd_selector(args: argparse.Namespace, preset: Preset) -> int:
    """``train selector``: the selection model alone (the generators must be trained and merged)."""
    from sqlensemble.train.sft import parse_overrides

    preset.for_selector()  # a preset without a selector section is refused first
    generators = load_generators()
    missing = [g.name for g in generators if not rundir.adapter_done(args.run, g.name)]
    if missing and not args.dry_run:
        raise PresetError(
            f"the selector's data pass needs the trained generators; missing: {', '.join(missing)} "
            f"(run `sqlensemble train all` first)"
        )
    rundir.check_run_folder(args.run)
    assembly.load_training_data(args.data)
    overrides = parse_overrides(args.set)
    check_selector_inputs(args, preset, overrides)
    started = time.monotonic()
    rows = _selector_steps(args, preset, overrides)
    if not args.dry_run:
        _print_summary(rows, rundir.manifest_path(args.run), time.monotonic() - started)
    return 0


def check_selector_inputs(args: argparse.Namespace, preset: Preset, overrides: dict[str, Any]) -> None:
    """The selector's SFTConfig (with the ``--set`` overrides already parsed) and its stack file, checked
    before any work; the data folder is checked by the caller, once."""
    from sqlensemble.stack import load_stack
    from sqlensemble.train.selector import settings as selector_settings
    from sqlensemble.train.sft import check_sft_configs

    tuned, spec = preset.for_selector()
    load_stack(selector_settings(preset).stack, check_paths=False)
    check_sft_configs(tuned, args.run, [spec], overrides, on_this_machine=_trains_here(args))


def _print_checksums(checksums: dict[str, str | None]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="checksums (sqlensemble train checksums --run RUN compares them)")
    table.add_column("artefact")
    table.add_column("sha256")
    for name, value in checksums.items():
        table.add_row(name, value or "-")
    Console(stderr=True, width=140).print(table)


def cmd_checksums(args: argparse.Namespace) -> int:
    """Recompute every artefact's digest and compare it with what ``generators.yaml`` recorded.

    Exit status 0 when all match, 1 when any differs (each one named on stderr).
    """
    from sqlensemble.manifest import load_manifest
    from sqlensemble.train.checksums import compare
    from sqlensemble.train.manifest import build_manifest

    recorded = load_manifest(rundir.manifest_path(args.run))
    preset = load_preset(recorded.preset)
    now = build_manifest(preset, args.run, load_generators())
    _print_checksums(now.checksums())
    differences = compare(recorded.checksums(), now.checksums())
    if args.against is not None:
        other = load_manifest(rundir.manifest_path(args.against)).checksums()
        differences += [f"{args.against}: {line}" for line in compare(other, now.checksums())]
    for line in differences:
        print(f"differs: {line}", file=sys.stderr)
    against = f" and {args.against}" if args.against is not None else ""
    verdict = f"all match generators.yaml{against}" if not differences else f"{len(differences)} differ"
    print(f"checksums: {verdict}")
    return 1 if differences else 0


def _print_summary(rows: list[tuple[str, str, str, str]], manifest: Path, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"generators ({seconds:.0f}s in all)")
    for column in ("generator", "level", "status", "time"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console = Console(stderr=True)
    console.print(table)
    console.print(f"manifest: {manifest}")


def _filter_lengths(
    preset: Preset, datasets: Path, names: Sequence[str], tokenizer: str, overrides: dict[str, Any]
) -> str:
    """Leave out the sequences over the SFT ``max_length`` (counted with ``tokenizer``, after the
    ``--set`` overrides :func:`check_inputs` parsed); the summary line."""
    from sqlensemble.train.lengths import describe, filter_datasets, print_lengths, sft_max_length

    limit = sft_max_length(preset.sft, overrides)
    reports = filter_datasets(datasets, names, tokenizer, limit)
    print_lengths(reports, tokenizer)
    return describe(reports)


def cmd_assemble(args: argparse.Namespace, preset: Preset) -> int:
    prompts = run_assemble(preset, args.data, args.out)
    tokenizer = args.tokenizer or _default_tokenizer(preset, args.out.parent)
    if tokenizer is None:
        print_stats(prompts, None)
        print(
            "lengths in characters: the preset's tokenizer is trained with the base; sequences over "
            "max_length are counted and left out when `train all` or `train sft` starts",
            file=sys.stderr,
        )
    else:
        names = [g.name for g in load_generators()]
        print(_filter_lengths(preset, args.out, names, tokenizer, {}), file=sys.stderr)
    print(f"datasets: {args.out}")
    return 0


COMMANDS = {
    "assemble": cmd_assemble,
    "base": cmd_base,
    "sft": cmd_sft,
    "merge": cmd_merge,
    "all": cmd_all,
    "selector": cmd_selector,
}


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        if args.step == "checksums":  # the preset is the one generators.yaml names
            return cmd_checksums(args)
        preset = load_preset(args.preset)
        if getattr(args, "num_gpus", None) is not None and args.num_gpus < 0:
            raise PresetError("--num-gpus must be >= 0")
        return COMMANDS[args.step](args, preset)
    except SqlEnsembleError as e:
        print(f"{PROG} {args.step}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
