"""``build_manifest`` on a run folder laid out by hand (no training): what is listed, with which paths and
prompt settings, read back through the core's reader."""

from __future__ import annotations

from pathlib import Path

from sqlensemble.manifest import load_manifest
from sqlensemble.train import rundir
from sqlensemble.train.config import load_generators, load_preset
from sqlensemble.train.manifest import build_manifest, write_manifest


def test_manifest_lists_finished_adapters_with_their_prompt_settings(tmp_path: Path) -> None:
    preset = load_preset("cpu-tiny")
    generators = load_generators()
    done, merged, pending = generators[0].name, generators[1].name, generators[2].name
    for name in (done, merged):
        rundir.final_adapter(tmp_path, name).mkdir(parents=True)
        (rundir.final_adapter(tmp_path, name) / "adapter_config.json").write_text("{}")
    rundir.merged_dir(tmp_path, merged).mkdir(parents=True)
    (rundir.merged_dir(tmp_path, merged) / "config.json").write_text("{}")
    rundir.adapter_dir(tmp_path, pending).mkdir(parents=True)  # started, not finished

    path = write_manifest(build_manifest(preset, tmp_path, generators), tmp_path)
    assert path == rundir.manifest_path(tmp_path)
    manifest = load_manifest(path)
    assert [g.name for g in manifest.generators] == [done, merged]
    first, second = manifest.generators
    assert first.merged_path is None and second.merged_path == str(
        rundir.merged_dir(tmp_path, merged).resolve()
    )
    assert first.prompt == preset.prompt_for(done) and second.prompt == preset.prompt_for(merged)
    assert first.prompt.max_examples == 0  # cpu-tiny's own setting, not the default
    assert (first.prompt.schema_order, second.prompt.schema_order) == (1, 2)  # each its own order
    assert manifest.base_model == str(rundir.base_dir(tmp_path).resolve())
