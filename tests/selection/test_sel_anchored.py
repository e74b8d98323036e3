"""The default's thresholds sit at the method's anchors and read one row each, so no defect mix can capture them:
a tight cluster of defects at RMI = 0 goes, the clean rows beside it stay, and a skewed clean-only bin loses few.
Its final ranking (``typical``) reads each row against fixed numbers too."""

from __future__ import annotations

import numpy as np
import pytest
from sel_helpers import check_accounting, from_columns

from qaq_datasets.errors import ColumnError, ConfigError
from qaq_datasets.selection import Selector
from qaq_datasets.selection.presets import default_plan


def _bin(rho: np.ndarray, ifd: np.ndarray, seed: int = 0):
    """One PPL(Q) bin of rows with RMI / NLL(Q) = ``rho`` and IFD = ``ifd`` for both models, ordinary answer ends
    and questions."""
    rng = np.random.default_rng(seed)
    n = len(rho)
    cols = {}
    for p in ("strong_", "weak_"):
        nll_q = rng.uniform(1.5, 2.5, n)  # one narrow band of question perplexity: a single bin
        nll_a = rng.uniform(0.5, 1.5, n)
        cols |= {f"{p}nll_q": nll_q, f"{p}nll_q_given_a": nll_q * (1 - rho), f"{p}rmi": nll_q * rho,
                 f"{p}nll_a": nll_a, f"{p}nll_a_given_q": nll_a + np.log(ifd), f"{p}ifd": ifd,
                 f"{p}nll_end": rng.uniform(0.0, 3.0, n), f"{p}q_tokens": np.full(n, 20),
                 f"{p}a_tokens": np.full(n, 40), f"{p}status": ["ok"] * n}
    return from_columns(**cols)


def _clean(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Skewed clean rows: RMI / NLL(Q) log-normal with a long right tail (median ~0.2, as real clean rows), IFD
    below its anchor 1 (the question helps the answer)."""
    return 0.2 * np.exp(rng.normal(0, 0.4, n) + rng.exponential(0.05, n)), rng.uniform(0.2, 0.97, n)


def _plan(**knobs):
    return default_plan(fraction=1.0, checks=(), **{"rho_high": 0.7, **knobs})


@pytest.mark.parametrize("share", [0.4, 0.6])
def test_a_tight_cluster_at_zero_goes_and_the_clean_rows_stay(share):
    """A bin whose defects (40%, or 60% where a PPL(Q) bin gathers them) sit in a tight cluster at the zero-
    information point (RMI ~ 0, IFD ~ 1: misaligned answers, fillers) loses the cluster, not the clean rows."""
    rng = np.random.default_rng(0)
    n_bad = int(600 * share / (1 - share))
    rho, ifd = _clean(600, rng)
    rho = np.concatenate([rho, np.abs(rng.normal(0.01, 0.005, n_bad))])
    ds = _bin(rho, np.concatenate([ifd, rng.uniform(1.0, 1.3, n_bad) + 1e-6]))
    sel = _plan().fit(ds)
    check_accounting(sel, len(ds))
    assert (np.array(sel.reasons, dtype=object)[600:] == "ifd_gt_1").all()
    assert (~sel.keep[:600]).mean() <= 0.03
    # the RMI side of the same anchor (off in the default, where IFD does the work): also row-local
    near_zero = _plan(rho_low=0.05).fit(_bin(rho, np.concatenate([ifd, np.full(n_bad, 0.9)])))
    assert (np.array(near_zero.reasons, dtype=object)[600:] == "rmi_low").all()
    if share > 0.5:  # fences fitted on the bin's own rows settle on the cluster: it stays, clean rows go
        fenced = Selector().stratify("weak_nll_q", bins=1).drop_outliers("weak_rmi", 3.0, 3.0).fit(ds)
        assert (~fenced.keep[:600]).mean() > 0.5 and fenced.keep[600:].mean() > 0.9


def test_echoes_go_at_the_other_anchor():
    """Answers that spell the question out (RMI / NLL(Q) near 1) go as rmi_high, however many there are."""
    rng = np.random.default_rng(3)
    rho, ifd = _clean(300, rng)
    ds = _bin(np.concatenate([rho, rng.uniform(0.75, 0.98, 200)]), np.concatenate([ifd, rng.uniform(0.1, 0.5, 200)]))
    sel = _plan().fit(ds)
    assert (np.array(sel.reasons, dtype=object)[300:] == "rmi_high").all() and (~sel.keep[:300]).mean() <= 0.03


def test_a_skewed_clean_only_bin_loses_at_most_a_few_percent():
    ds = _bin(*_clean(2000, np.random.default_rng(1)))
    assert (~_plan().fit(ds).keep).mean() <= 0.03


@pytest.mark.parametrize("share", [0.1, 0.4, 0.6])
def test_no_mix_of_other_rows_moves_a_row_s_verdict(share):
    """Row-local: whatever defects are added, each clean row gets the same verdict from the filters."""
    rng = np.random.default_rng(2)
    rho, ifd = _clean(300, rng)
    n = int(300 * share / (1 - share))
    extras = {"cluster": (np.abs(rng.normal(0.01, 0.005, n)), rng.uniform(1.0, 1.3, n) + 1e-6),
              "echo": (rng.uniform(0.8, 0.99, n), rng.uniform(0.1, 0.5, n))}
    alone = _plan().fit(_bin(rho, ifd)).reasons
    for r, i in extras.values():
        mixed = _plan().fit(_bin(np.concatenate([rho, r]), np.concatenate([ifd, i]))).reasons
        assert mixed[:300] == alone


def test_drop_where_divides_by_another_column():
    ds = from_columns(rmi=np.array([0.1, 1.0, 2.0, 0.5, 3.0]), nll_q=np.array([2.0, 2.0, 2.0, 0.0, 4.0]))
    sel = Selector().drop_where("rmi", "<", 0.2, divide_by="nll_q").fit(ds)
    assert sel.reasons == ["rmi_per_nll_q_lt_0.2", None, None, None, None]  # 0.5 / 0 = inf: not below
    sel = Selector().drop_where("rmi", ">", 0.9, divide_by="nll_q", reason="rmi_high").fit(ds)
    assert sel.reasons == [None, None, "rmi_high", "rmi_high", None]
    assert sel.report["steps"][0]["params"]["divide_by"] == "nll_q"
    plan = Selector().drop_where("rmi", "<", 0.2, divide_by="nll_q")
    assert Selector.from_yaml(plan.to_yaml()) == plan
    with pytest.raises(ConfigError, match="divide_by"):
        Selector().drop_where("rmi", "==", 0.2, divide_by="nll_q")
    with pytest.raises(ColumnError, match="nll_x"):  # a missing divisor is named before any row is read
        Selector().drop_where("rmi", "<", 0.2, divide_by="nll_x").fit(ds)


def test_drop_where_default_reasons_name_the_column_the_op_and_a_single_value():
    ds = from_columns(ifd=np.array([0.5, 1.5, 2.0]), status=["ok", "oom", "ok"])
    plans = {"ifd_gt_1": Selector().drop_where("ifd", ">", 1.0), "ifd_in": Selector().drop_where("ifd", "in", [0.5]),
             "status_not_in": Selector().drop_where("status", "not in", ["ok"]),
             "status_eq_oom": Selector().drop_where("status", "==", "oom")}
    for reason, plan in plans.items():
        assert reason in plan.fit(ds).report["drop_reasons"]
    for own in ("nan_score", "below_cut", "kept"):  # a count under these must mean what the library says
        with pytest.raises(ConfigError, match=f"reason '{own}' is one the library gives"):
            Selector().drop_where("ifd", ">", 1.0, reason=own)


def test_default_plan_names_unknown_knobs():
    with pytest.raises(ConfigError, match="rho_lo"):
        default_plan(rho_lo=0.1)


def test_huge_values_in_a_plan_give_one_short_line():
    """A row count of thousands of digits, or a huge value list, is refused in one short line (no int-to-str error)."""
    from qaq_datasets.errors import ConfigTypeError

    for bad, error in ((10 ** 5000, ConfigError), (-(10 ** 5000), ConfigError), ("x" * 100_000, ConfigTypeError)):
        with pytest.raises(error) as err:
            Selector().random(0).keep_top(bad)
        assert len(str(err.value)) < 300 and "\n" not in str(err.value)
    with pytest.raises(ConfigTypeError) as err:
        Selector().drop_where("rmi", "in", [1, "x" * 100_000])
    assert len(str(err.value)) < 300


def test_plan_files_and_selections_refuse_what_a_careless_user_gives(tmp_path):
    """A 10,000-digit integer in a plan file, a plan of too many steps, a selection applied to a list or a
    DatasetDict, and a 100 KB column name: each one short line of the library's errors."""
    from datasets import DatasetDict
    from sel_helpers import scored

    from qaq_datasets.errors import ConfigTypeError
    from qaq_datasets.selection.selector import MAX_STEPS

    path = tmp_path / "plan.yaml"
    path.write_text("steps:\n- step: stratify\n  column: strong_nll_q\n  bins: " + "9" * 10_000 + "\n")
    with pytest.raises(ConfigError, match="could not be converted"):
        Selector.from_yaml(path)
    with pytest.raises(ConfigError, match=f"at most {MAX_STEPS} steps"):
        Selector.from_dict({"steps": [{"step": "random"}] * (MAX_STEPS + 1)})
    ds = scored(40)
    sel = Selector().random(0).keep_top(0.5).fit(ds)
    for bad in ([1, 2, 3], DatasetDict({"train": ds})):
        with pytest.raises(ConfigTypeError, match="datasets.Dataset"):
            sel.apply(bad)
    with pytest.raises(ColumnError) as err:
        Selector().stratify("strong_nll_q").rank("c" * 100_000).fit(ds)
    assert len(str(err.value)) < 700
    # any message of the library's errors is cut, whatever built it (a scorer's 100 KB question column name)
    err = ColumnError(f"Column {'q' * 100_000!r} is not in the dataset.", column="q", available=["a", "b"])
    assert len(str(err)) <= 600 and "[...]" in str(err) and str(err).endswith("Available columns: a, b.")


def _typical_rows(n_clean: int, n_bad: int, seed: int = 0):
    """Clean rows spread around the profile (weak nll_q_given_a 1.65 ± 0.57, weak nll_a 1.41 ± 0.77) and a tight
    cluster of defects off it in one column (NLL(Q|A) ~ 3.5: questions the answer does not explain)."""
    rng = np.random.default_rng(seed)
    clean = rng.normal(1.65, 0.5, n_clean), rng.normal(1.41, 0.6, n_clean)
    bad = rng.normal(3.5, 0.05, n_bad), rng.normal(1.41, 0.3, n_bad)
    return from_columns(weak_nll_q_given_a=np.concatenate([clean[0], bad[0]]),
                        weak_nll_a=np.concatenate([clean[1], bad[1]]))


@pytest.mark.parametrize("share", [0.25, 0.5, 0.6])
def test_typical_keeps_the_clean_rows_whatever_share_of_the_set_a_defect_cluster_is(share):
    """The final ranking reads each row against fixed numbers: a dense cluster of defects, even the majority of the
    set, cannot pull the kept rows toward itself (a within-set rank centred on the median would)."""
    from qaq_datasets.selection.presets import DEFAULT_PARAMS

    n_bad = int(400 * share / (1 - share))
    ds = _typical_rows(400, n_bad)
    sel = Selector().typical(DEFAULT_PARAMS["profile"]).keep_top(200).fit(ds)
    assert sel.keep[:400].sum() == 200 and not sel.keep[400:].any()
    middle = Selector().stratify("weak_nll_a", bins=1).rank("weak_nll_q_given_a").closest_to(0.5).keep_top(200)
    assert share < 0.5 or middle.fit(ds).keep[400:].sum() >= 0.4 * 200  # at half, the relative centre is captured


def test_typical_distance_is_row_local():
    """Adding any rows never changes another row's distance."""
    from qaq_datasets.selection.presets import DEFAULT_PARAMS

    plan = Selector().typical(DEFAULT_PARAMS["profile"]).keep_top(1.0)
    alone = plan.fit(_typical_rows(300, 0)).columns["qaq_typical_distance"]
    mixed = plan.fit(_typical_rows(300, 500)).columns["qaq_typical_distance"]
    assert np.array_equal(alone, mixed[:300])


def test_typical_refuses_a_bad_profile_in_one_line():
    from qaq_datasets.errors import ConfigTypeError

    for bad, error in (({}, ConfigTypeError), ("weak_rmi", ConfigTypeError), ({"weak_rmi": [0.2]}, ConfigError),
                       ({"weak_rmi": [0.2, 0]}, ConfigError), ({"weak_rmi": [float("nan"), 1]}, ConfigError),
                       ({"weak_rmi": ["a", 1]}, ConfigError), ({"weak_rmi": [1, 10 ** 400]}, ConfigError),
                       ({"weak_rmi": [float("inf"), 1]}, ConfigError), ({"": [0, 1]}, ConfigError)):
        with pytest.raises(error, match="typical profile"):
            Selector().typical(bad)
    with pytest.raises(ColumnError, match="weak_nll_x"):  # a missing column is named before any row is read
        Selector().typical({"weak_nll_x": [1, 1]}).fit(_typical_rows(5, 0))
    plan = Selector().typical({"weak_rmi": [0.2, 0.1]}).keep_top(3)
    assert Selector.from_yaml(plan.to_yaml()) == plan
    with pytest.raises(ConfigError, match="infinite distance"):  # a subnormal spread: every distance overflows
        Selector().typical({"weak_nll_a": [1.4, 1e-320]}).keep_top(3).fit(_typical_rows(5, 0))
