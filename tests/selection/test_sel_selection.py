"""The Selection object: keep / reasons / indices, apply, annotate, as_filter."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import scored

from qaq_datasets.errors import ConfigError
from qaq_datasets.selection import Selector, preset
from qaq_datasets.selection.result import rows_identity


@pytest.fixture(scope="module")
def ds():
    return scored(300)


@pytest.fixture(scope="module")
def sel(ds):
    return preset("default").fit(ds)


def test_keep_reasons_indices(sel):
    assert sel.keep.dtype == bool and len(sel.keep) == 300
    assert sel.indices.tolist() == np.flatnonzero(sel.keep).tolist()
    assert all(isinstance(r, str) for r, k in zip(sel.reasons, sel.keep) if not k)
    with pytest.raises(ValueError):
        sel.keep[0] = not sel.keep[0]  # read-only
    assert "rows_kept=75" in repr(sel)


def test_apply(ds, sel):
    curated = sel.apply(ds)
    assert len(curated) == 75
    assert curated["instruction"][:] == [ds["instruction"][i] for i in sel.indices.tolist()]
    assert set(sel.columns) == {"qaq_typical_distance"}
    for name in sel.columns:
        np.testing.assert_array_equal(np.asarray(curated[name][:]), sel.columns[name][sel.indices])
    assert set(ds.column_names) < set(curated.column_names)
    # applying again to the curated columns' source replaces same-named columns
    again = sel.apply(sel.annotate(ds))
    assert again.column_names.count("qaq_typical_distance") == 1


def test_annotate(ds, sel):
    annotated = sel.annotate(ds)
    assert len(annotated) == 300
    assert annotated["qaq_keep"][:] == sel.keep.tolist()
    assert annotated["qaq_drop_reason"][:] == sel.reasons
    assert annotated.features["qaq_drop_reason"].dtype == "string"
    dist = np.asarray(annotated["qaq_typical_distance"][:], dtype=float)
    np.testing.assert_array_equal(np.isnan(dist), np.isnan(sel.columns["qaq_typical_distance"]))


@pytest.mark.parametrize("batched", [False, True])
def test_as_filter(ds, sel, batched):
    filtered = ds.filter(sel.as_filter(), with_indices=True, batched=batched)
    assert filtered["instruction"][:] == sel.apply(ds)["instruction"][:]


def test_dataset_with_an_indices_mapping(ds):
    shuffled = ds.shuffle(seed=3)
    sel = preset("default").fit(shuffled)
    flat = preset("default").fit(shuffled.flatten_indices())
    np.testing.assert_array_equal(sel.keep, flat.keep)
    assert sel.apply(shuffled)["instruction"][:] == flat.apply(shuffled.flatten_indices())["instruction"][:]
    # same rows as fitting the unshuffled data, except where the row-index tie rule decides at the cut
    base = preset("default").fit(ds)
    a, b = set(sel.apply(shuffled)["instruction"][:]), set(base.apply(ds)["instruction"][:])
    assert len(a) == len(b)
    cut = base.report["steps"][-1]["fitted"]["cut"]
    score_of = dict(zip(ds["instruction"], base.columns["qaq_typical_distance"]))
    assert all(score_of[x] == cut for x in a ^ b), "rows differ beyond ties at the cut"


def test_the_selection_carries_the_identity_of_its_rows(ds, sel):
    assert sel.fitted_on == sel.report["fitted_on"] == rows_identity(ds) and sel.fitted_on["rows"] == 300
    assert rows_identity(ds.map(lambda r: {"note": 1})) == sel.fitted_on  # a map() that keeps the scores in place
    assert len(sel.annotate(ds.map(lambda r: {"note": 1}))) == 300


@pytest.mark.parametrize("other", ["shuffled", "reversed", "other_values", "fewer_rows"])
def test_apply_and_annotate_refuse_rows_it_was_not_fitted_on(ds, sel, other):
    rows = {"shuffled": lambda: ds.shuffle(seed=1), "reversed": lambda: ds.select(range(299, -1, -1)),
            "other_values": lambda: scored(300, seed=5), "fewer_rows": lambda: ds.select(range(200))}[other]()
    for use in (sel.apply, sel.annotate):
        with pytest.raises(ConfigError, match="fitted on other rows .300 rows.*re-fit.*plan.fit") as err:
            use(rows)
        assert len(str(err.value).splitlines()) == 1 and len(str(err.value)) < 400
    # re-fitting on those rows is the fix
    assert len(Selector.from_dict(sel.plan).fit(rows).apply(rows)) > 0
