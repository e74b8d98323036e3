"""ScoreColumns: the one place a score-column name is built or split, and a scorer's name <-> prefix."""

from __future__ import annotations

import pickle

import pytest
from datasets import Value

from qaq_datasets.scoring.schema import FIELDS, ScoreColumns, check_score_columns, infer_prefixes


def test_columns_of_a_named_scorer():
    weak = ScoreColumns.named("weak")
    assert weak.prefix == "weak_" and weak.name == "weak"
    assert (weak.rmi, weak.nll_q, weak.nll_q_given_a, weak.status) == ("weak_rmi", "weak_nll_q", "weak_nll_q_given_a",
                                                                        "weak_status")
    assert weak.columns == [f"weak_{f}" for f in FIELDS]
    assert ScoreColumns.named(ScoreColumns("strong_").name) == ScoreColumns("strong_")  # name <-> prefix round trip
    assert pickle.loads(pickle.dumps(weak)) == weak and hash(weak) == hash(ScoreColumns("weak_"))


def test_a_field_that_does_not_exist_is_an_attribute_error():
    with pytest.raises(AttributeError, match="rmii"):
        ScoreColumns("weak_").rmii  # noqa: B018 - a typo must not build a column name


def test_features_have_the_contract_types():
    features = ScoreColumns("qaq_").features()
    assert list(features) == ScoreColumns("qaq_").columns
    assert features["qaq_rmi"] == Value("float64") and features["qaq_q_tokens"] == Value("int64")
    assert features["qaq_status"] == Value("string")
    check_score_columns(features, ["qaq_"])


@pytest.mark.parametrize("column,parsed", [("weak_nll_q_given_a", ("weak_", "nll_q_given_a")),
                                           ("weak_nll_q", ("weak_", "nll_q")), ("a_b_rmi", ("a_b_", "rmi")),
                                           ("strong_status", ("strong_", "status")), ("rmi", ("", "rmi")),
                                           ("weak_rmi_rank", None), ("instruction", None)])
def test_parse_splits_a_column_back(column, parsed):
    assert ScoreColumns.parse(column) == parsed
    if parsed:
        assert getattr(ScoreColumns(parsed[0]), parsed[1]) == column


def test_infer_prefixes_needs_rmi_nll_q_and_status():
    cols = ["id", *ScoreColumns("a_").columns, "b_rmi", "b_nll_q", "c_rmi", "c_status", "b_status"]
    assert infer_prefixes(cols) == ["a_", "b_"]
