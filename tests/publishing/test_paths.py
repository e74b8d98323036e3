"""Every path the publisher writes stays inside its folder, whatever a card, a prefix or a config name says."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import DatasetDict
from pub_helpers import METADATA, StandInSelection, scored_ds

from qaq_datasets.cli import main
from qaq_datasets.errors import ConfigError
from qaq_datasets.files import write_atomic
from qaq_datasets.publishing import load_scored, publish, save_folder
from qaq_datasets.publishing.folder import inside

EVIL = "../../x/EVIL_"


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_card_prefix_that_climbs_out_is_refused(tmp_path, capsys):
    scored = tmp_path / "work" / "scored"
    save_folder(scored, {"scored": scored_ds(8)}, METADATA)
    readme = scored / "README.md"
    readme.write_text(readme.read_text().replace("prefix: qaq_", f"prefix: {EVIL}", 1))
    with pytest.raises(ConfigError, match=r"qaq.scorers.qaq.prefix '\.\./\.\./x/EVIL_' is not a scorer prefix"):
        load_scored(scored)
    out = tmp_path / "work" / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["publish", str(scored), "me/x", "--dry-run", str(out)])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "is not a scorer prefix" in lines[0]
    assert not out.exists() and not list(tmp_path.rglob("EVIL_*"))


@pytest.mark.parametrize("scorers", [{"e": {"prefix": EVIL}}, {"../../x/EVIL": {}}, {"e": {"prefix": ""}}])
def test_metadata_prefixes_are_checked_in_the_python_api(tmp_path, scorers):
    ds = scored_ds(8)
    with pytest.raises(ConfigError, match="not a scorer prefix"):
        publish("me/x", ds, StandInSelection(ds), dry_run=tmp_path / "out", metadata={"scorers": scorers})
    assert not (tmp_path / "out").exists() and not list(tmp_path.parent.rglob("EVIL_*"))


def test_prefixes_inferred_from_column_names_are_checked(tmp_path):
    ds = scored_ds(8)
    evil = ds.rename_columns({c: EVIL + c[len("qaq_"):] for c in ds.column_names if c.startswith("qaq_")})
    with pytest.raises(ConfigError, match="prefix found in the column names"):
        publish("me/x", evil, dry_run=tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.parent.rglob("EVIL_*"))


@pytest.mark.parametrize("rel", ["../outside.txt", "a/../../outside.txt", "/tmp/elsewhere.txt", ".", "linked/x.png"])
def test_write_atomic_stays_inside_its_folder(tmp_path, rel):
    folder = tmp_path / "out"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (folder / "linked").symlink_to(tmp_path / "elsewhere")  # a link planted in the folder leads out
    with pytest.raises(ConfigError, match="not a file inside"):
        write_atomic(inside(folder, rel), b"x")
    assert not (tmp_path / "outside.txt").exists() and not list((tmp_path / "elsewhere").iterdir())
    assert inside(folder, "figures/qaq_rmi.png") == folder / "figures/qaq_rmi.png"


@pytest.mark.parametrize("configs", [{"..": scored_ds(3)}, {"scored": DatasetDict({"../../x": scored_ds(3)})}])
def test_config_and_split_names_that_climb_out_are_refused(tmp_path, configs):
    folder = tmp_path / "a" / "b"
    with pytest.raises(ConfigError, match="not a file inside"):
        save_folder(folder, configs, METADATA)
    assert not [p for p in _files(tmp_path) if p.endswith(".parquet")]



def test_write_atomic_names_the_file_when_the_disk_is_full(tmp_path, monkeypatch):
    import errno

    from qaq_datasets.errors import DiskFullError

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text("old")
    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(DiskFullError, match="manifest.json"):
        write_atomic(tmp_path / "run" / "manifest.json", "new")
    assert (tmp_path / "run" / "manifest.json").read_text() == "old"  # the old file, not a cut one
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["manifest.json"]


def test_to_builtin_writes_json_without_nan():
    import json

    import numpy as np

    from qaq_datasets.files import to_builtin

    value = to_builtin({"nan": np.float64("nan"), "inf": float("inf"), "ints": np.arange(2), 3: {np.int32(1)},
                        "t": (np.bool_(True), None, Path("p"))})
    assert value == {"nan": None, "inf": None, "ints": [0, 1], "3": [1], "t": [True, None, "p"]}
    json.loads(json.dumps(value), parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
