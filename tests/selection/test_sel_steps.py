"""The steps' argument checks repeat what they were given cut short: a plan file can hold a 100 KB column name
or an integer of thousands of digits (which Python refuses to print)."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import scored

from qaq_datasets.errors import ColumnError, ConfigError, ConfigTypeError
from qaq_datasets.selection import Selector
from qaq_datasets.selection.steps import INT_MAX, shown

HUGE_NAME = "x" * 100_000
HUGE_INT = 10**10_000
RANKED = Selector().stratify("weak_nll_q", bins=1).rank("weak_rmi")


def one_short_line(exc: BaseException, limit: int = 300) -> str:
    message = str(exc)
    assert "\n" not in message and len(message) < limit, message[:500]
    return message


@pytest.mark.parametrize("value", [HUGE_INT, -HUGE_INT, np.int64(-5), HUGE_NAME, "a\nb" * 50_000,
                                   [HUGE_NAME] * 1000, {HUGE_NAME: [HUGE_INT] * 1000}, np.float32(0.5)],
                         ids=["int", "negative int", "np.int64", "str", "newlines", "list", "dict", "np.float32"])
def test_shown_is_one_short_line(value):
    text = shown(value)
    assert "\n" not in text and len(text) <= 100


def test_shown_describes_an_integer_too_long_to_print():
    assert shown(HUGE_INT) == "<an integer of about 10000 digits>"
    assert shown(12345) == "12345" and shown(np.float32(0.5)) == "0.5" and shown("weak_rmi") == "'weak_rmi'"


def test_missing_huge_column_is_one_short_line():
    ds = scored(20)
    with pytest.raises(ColumnError) as err:
        Selector().stratify(HUGE_NAME).fit(ds)
    message = one_short_line(err.value, limit=1000)  # the dataset's own column names are listed after it
    assert "needs column 'xxx" in message and "Available columns:" in message
    assert err.value.column == HUGE_NAME  # the attribute keeps the whole name


def test_missing_huge_column_from_a_plan_file(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(f"steps:\n- step: stratify\n  column: {HUGE_NAME}\n", encoding="utf-8")
    with pytest.raises(ColumnError) as err:
        Selector.from_yaml(path).fit(scored(20))
    one_short_line(err.value, limit=1000)


def test_huge_non_string_column_name_is_cut():
    with pytest.raises(ConfigTypeError) as err:
        Selector().stratify([HUGE_NAME] * 100)
    assert "stratify column must be a non-empty column name (str), got list" in one_short_line(err.value)


@pytest.mark.parametrize("build", [
    lambda: Selector().stratify("weak_nll_q", bins=-HUGE_INT),
    lambda: Selector().stratify("weak_nll_q", min_rows=-HUGE_INT),
    lambda: Selector().random(seed=-HUGE_INT),
], ids=["bins", "min_rows", "seed"])
def test_int_below_its_minimum_is_cut(build):
    with pytest.raises(ConfigError) as err:
        build()
    assert "must be >= " in one_short_line(err.value) and "10000 digits" in str(err.value)


def test_int_beyond_int64_is_refused():
    with pytest.raises(ConfigError) as err:
        Selector().stratify("weak_nll_q", min_rows=HUGE_INT)
    assert "must be <= 2**63 - 1" in one_short_line(err.value)
    # a seed Python can hold but no plan file can (YAML refuses to print it): refused when the plan is built
    with pytest.raises(ConfigError) as err:
        Selector().random(seed=HUGE_INT)
    assert "must be <= 2**63 - 1" in one_short_line(err.value)
    with pytest.raises(ConfigError):
        Selector().random(seed=INT_MAX + 1)
    assert Selector().random(seed=INT_MAX).steps[0]["seed"] == INT_MAX


def test_int_in_a_plan_dict_is_cut():
    plan = {"steps": [{"step": "stratify", "column": "weak_nll_q", "bins": -HUGE_INT}]}
    with pytest.raises(ConfigError) as err:
        Selector.from_dict(plan)
    message = one_short_line(err.value)
    assert "plan step 0 (stratify)" in message and "10000 digits" in message and "Exceeds" not in message


@pytest.mark.parametrize("build", [
    lambda: RANKED.closest_to(HUGE_INT),
    lambda: RANKED.closest_to(-HUGE_INT),
    lambda: RANKED.drop_extremes(low=HUGE_INT),
    lambda: RANKED.closest_to(float("inf")),
], ids=["closest_to huge", "closest_to -huge", "drop_extremes huge", "closest_to inf"])
def test_unit_out_of_range_is_cut(build):
    # float() of a 10,000-digit integer overflows: it is out of range, not an OverflowError
    with pytest.raises(ConfigError) as err:
        build()
    assert "must be in " in one_short_line(err.value)


def test_unit_of_wrong_type_is_cut():
    with pytest.raises(ConfigTypeError) as err:
        RANKED.closest_to([HUGE_NAME] * 10)
    assert "must be a number, got list" in one_short_line(err.value)
