"""``Selector``: the immutable builder of a selection plan, its fitting, and its (de)serialisation.

A plan is a list of steps applied in order to the rows still alive. Fitting reads only the columns the
steps name (score columns: Arrow → numpy, vectorised; ``drop_broken_answers``: the question and answer text),
on the whole dataset it is given.

Rules that hold for every plan:

* **Order.** Each step sees only the rows that survived the steps before it: ``stratify`` bins them,
  ``rank`` ranks them, ``gap`` bins and ranks them per model. Bins are fixed when ``stratify`` runs.
* **Missing values.** A row with a missing value (NaN, ±inf, null) in a column a step reads is
  dropped with reason ``nan_score`` by the first step that reads that column — unless the Selector
  was built with ``keep_nan=True``: then the row is not dropped for it, gets no bin and NaN
  ranks/gap, passes ``drop_where``/``drop_outliers``/``drop_extremes``, sorts after every number in ``keep_top``, and
  the report counts it in ``kept_with_missing`` if it is kept.
* **Budget.** ``keep_top(0.25)`` keeps round-half-up(0.25 × rows IN), i.e. a fraction of the dataset
  the plan was fitted on, not of the rows that survived the filters ("25% budget" = 25% of rows in).
  If fewer rows survive, all survivors are kept and the report's ``notes`` say so.
* **Ties.** Equal values share one within-bin rank (average position); ``keep_top`` orders rows by
  score, then by row index ascending (the earlier row wins); quantile edges are data values chosen
  by integer position. Same data + same plan → the same rows on any machine.
* **Reasons.** Every dropped row carries one reason (the first that applied): ``nan_score``,
  ``{measure}_low``/``{measure}_high`` (``rmi_low``/``rmi_high`` for an RMI rank), the
  ``drop_where`` reason (e.g. ``ifd_gt_1``, ``not_ok_status``), the text checks' ``looping``,
  ``missing_code``, ``unparseable_code``, ``wrong_language``, ``below_cut`` (outside keep_top's budget).
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from datasets import Dataset, DatasetDict

from ..errors import ConfigError, ConfigTypeError, QAQError
from ..scoring.schema import ScoreColumns
from .text_checks import DropBrokenAnswers
from .filtering import DropExtremes, DropOutliers, DropWhere, KeepTop
from .scores import ClosestTo, Gap, Random, Rank, ScoreBy, Stratify
from .selection import Selection, build_report
from .steps import NAN_SCORE, ColumnReader, Context, FitState, Step, check_column, check_column_name, shown

PLAN_FORMAT = "qaq-selection-plan"
PLAN_VERSION = 1
#: the most steps a plan may have (a plan file comes from anyone: 300,000 steps took a minute to read)
MAX_STEPS = 1000


def _cut(exc: Exception, n: int = 300) -> str:
    """An error's message on one line, at most ``n`` characters (it may repeat a value from a plan file)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= n else f"{text[:n]} … [cut]"


def _model_nll_q(column: str, what: str) -> str:
    split = ScoreColumns.parse(column)
    if split is None:
        raise ConfigError(f"gap cannot tell which model {shown(column)} comes from (it is not a '{{prefix}}rmi'-style "
                          f"score column); pass {what}_by='<that model's nll_q column>'.")
    return ScoreColumns(split[0]).nll_q


class Selector:
    """Immutable builder of a selection plan; every method returns a new Selector.

    Args:
        keep_nan: keep rows with missing scores instead of dropping them as ``nan_score`` (see the
            module docs for exactly what happens to them). Default False.

    Examples:
        >>> import qaq_datasets.selection as qs
        >>> plan = (qs.Selector()
        ...         .stratify("weak_nll_q", bins=10)
        ...         .drop_outliers("weak_rmi", low=2.0, high=3.0)
        ...         .gap(strong="strong_rmi", weak="weak_rmi")
        ...         .keep_top(0.25))
        >>> selection = plan.fit(scored)
        >>> curated = selection.apply(scored)
        >>> qs.Selector.from_yaml(plan.to_yaml()) == plan
        True
    """

    def __init__(self, *, keep_nan: bool = False):
        if not isinstance(keep_nan, bool):
            raise ConfigTypeError(f"keep_nan must be True or False, got {keep_nan!r}.")
        self._keep_nan = keep_nan
        self._steps: tuple[Step, ...] = ()

    # ------------------------------------------------------------------ building

    def _context(self) -> Context:
        ctx = Context()
        for step in self._steps:
            step.advance(ctx)
        return ctx

    def _append(self, step: Step) -> Selector:
        ctx = self._context()
        step.check(ctx)
        for name in set(step.outputs()) & ctx.outputs:
            raise ConfigError(f"{step.kind}: an earlier step already computes a column named {name!r}; "
                              "pass name= to choose another.")
        return self._with_steps((*self._steps, step))

    def _with_steps(self, steps: tuple[Step, ...]) -> Selector:
        new = Selector(keep_nan=self._keep_nan)
        new._steps = steps
        return new

    def stratify(self, column: str, bins: int = 10, *, min_rows: int = 2) -> Selector:
        """Split the alive rows into ``bins`` equal-count quantile bins of ``column``.

        Later ``rank`` steps rank within these bins (RMI is heteroscedastic in PPL(Q), so rank it
        within bins of ``{p}nll_q``). Tied values never straddle two bins, so tied quantile edges
        collapse bins; then bins with fewer than ``min_rows`` rows are merged into a neighbour. Both
        are reported (``notes``, the step's ``fitted``); there is never a division by zero.
        ``bins=1`` gives one global bin. More bins than dataset rows is an error.

        Input columns: ``column`` (numeric, e.g. ``weak_nll_q``).
        Output columns: none (the bins appear in the report).

        Examples:
            >>> Selector().stratify("weak_nll_q", bins=10).rank("weak_rmi")
        """
        return self._append(Stratify(column, bins, min_rows))

    def rank(self, column: str, *, name: str | None = None) -> Selector:
        """Normalised rank in [0, 1] of ``column`` within the latest ``stratify`` bins.

        0 = smallest value of its bin, 1 = largest; equal values share their average rank; a bin
        with one row gives 0.5. The rank becomes the current score (``keep_top`` keeps the highest)
        and the target of ``drop_extremes`` / ``closest_to``. Needs a ``stratify`` before it.

        Input columns: ``column`` (numeric, e.g. ``weak_rmi``).
        Output columns: ``name`` or ``{column}_rank`` (float64, NaN for rows not ranked).

        Examples:
            >>> Selector().stratify("weak_nll_q").rank("weak_rmi").drop_extremes(0.1, 0.95)
        """
        return self._append(Rank(column, name))

    def drop_extremes(self, low: float = 0.1, high: float = 0.95) -> Selector:
        """Drop rows whose latest rank is ``< low`` (reason ``{measure}_low``) or ``> high`` (``{measure}_high``).

        For an RMI rank the reasons are ``rmi_low`` (answer unrelated to the question) and
        ``rmi_high`` (answer echoing the question). ``low`` in [0, 1), ``high`` in (0, 1], low < high.
        Needs a ``rank`` before it.

        Input columns: none (reads the latest rank).
        Output columns: none.

        Examples:
            >>> Selector().stratify("strong_nll_q").rank("strong_rmi").drop_extremes(low=0.1, high=0.95)
        """
        return self._append(DropExtremes(low, high))

    def drop_outliers(self, column: str, low: float | None = 3.0, high: float | None = 3.0) -> Selector:
        """Drop the rows whose ``column`` is an outlier of its bin, with fences fitted to the data.

        In each bin of the latest ``stratify``, the fences are median − ``low`` × scale and median + ``high`` ×
        scale, with scale = 1.4826 × MAD (median absolute deviation: the standard deviation for normal data),
        refitted on the rows inside them (three fits at most). No fraction is assumed: with no defects a bin
        loses few rows, and with many the refits keep the fences on the clean rows, as long as the first fence
        catches the outliers: a bin with ~40% outliers has about twice the clean rows' MAD, so a close cluster
        can slip inside wide fences (3 scales), not inside narrower ones. The fences are fitted on the bin's own
        rows, so a dense cluster of defects can pull them onto itself; the ``default`` preset uses row-local
        thresholds at the method's anchors instead (``drop_where(..., divide_by=...)``). ``None`` on one side
        keeps that side.
        Reasons ``{measure}_low`` / ``{measure}_high`` (``rmi_low``, ``rmi_high`` for ``weak_rmi``); the
        fitted fences are in the step's report (``fences``: bin, rows, median, scale, low, high) and its notes.

        Input columns: ``column`` (numeric).
        Output columns: none.

        Examples:
            >>> Selector().stratify("weak_nll_q", bins=10).drop_outliers("weak_rmi", low=2.0, high=3.0)
            >>> Selector().stratify("weak_nll_q").drop_outliers("weak_nll_end", low=None, high=3.0)
        """
        return self._append(DropOutliers(column, low, high))

    def drop_where(self, column: str, op: str, value: Any, *, reason: str | None = None,
                   divide_by: str | None = None) -> Selector:
        """Drop rows where ``column <op> value`` holds (missing values never match; see ``keep_nan``).

        ``op`` is one of ``<  <=  >  >=  ==  !=  in  not in``; strings work with ``== != in not in``.
        With ``divide_by``, the ratio ``column / divide_by`` is compared (``<  <=  >  >=``). The decision for a
        row reads that row alone, so no mix of other rows can move it.
        ``reason`` defaults to ``{column}_{op word}_{value}`` (e.g. ``weak_ifd_gt_1``).

        Input columns: ``column`` (numeric, or string for string values), ``divide_by`` (numeric).
        Output columns: none.

        Examples:
            >>> Selector().drop_where("strong_ifd", ">", 1, reason="ifd_gt_1")
            >>> Selector().drop_where("strong_status", "not in", ["ok", "truncated"], reason="not_ok_status")
            >>> Selector().drop_where("weak_rmi", "<", 0.1, divide_by="weak_nll_q", reason="rmi_low")
        """
        return self._append(DropWhere(column, op, value, reason, divide_by))

    def drop_broken_answers(self, *, question: str | list[str] | None = None, answer: str | None = None,
                            messages: str | None = None) -> Selector:
        """Drop the rows whose answer loops (``looping``), is prose where the question asks for code
        (``missing_code``), is Python that does not parse (``unparseable_code``), or is code in another language
        than the one the question names (``wrong_language``).

        These are checked on the text, without a model (see :mod:`~qaq_datasets.selection.text_checks` for the
        rules: the asked language is the one the question names, the answer's language is guessed from
        signatures only when one language clearly wins, Python is checked with ``ast.parse``). Answers with no
        recognisable code pass the code checks. The step's report counts each result (``checks``).

        Input columns: the question and answer text, found from the column names as ``score_fn`` finds them
        (``instruction`` + ``input`` + ``output``, ``messages``, ``prompt`` + ``completion``, …), or named here.
        When none are named and none are found, the step checks nothing and its note says so.
        Output columns: none.

        Examples:
            >>> Selector().drop_broken_answers()
            >>> Selector().drop_broken_answers(question="task", answer="solution")
        """
        return self._append(DropBrokenAnswers(question, answer, messages))

    def gap(
        self,
        strong: str,
        weak: str,
        *,
        strong_by: str | None = None,
        weak_by: str | None = None,
        bins: int | None = None,
        min_rows: int | None = None,
        name: str = "qaq_gap",
    ) -> Selector:
        """Cognitive gap Diff = r_strong − r_weak, each a within-bin rank under its own model's bins.

        ``strong`` and ``weak`` must come from different model prefixes. The strong rank is taken
        within quantile bins of ``strong_by`` (default: the strong column's ``{prefix}nll_q``), the
        weak rank within bins of ``weak_by`` (default ``{weak prefix}nll_q``), both over the rows
        alive at this step. ``bins``/``min_rows`` default to those of the latest ``stratify``; with
        no stratify before, ``bins`` must be given. Diff becomes the score (higher is kept first).

        Input columns: ``strong``, ``weak``, ``strong_by``, ``weak_by`` (numeric).
        Output columns: ``qaq_gap`` (Diff in [-1, 1]), ``qaq_gap_strong_rank``, ``qaq_gap_weak_rank``
        (prefix ``name`` instead of ``qaq_gap`` when given).

        Examples:
            >>> Selector().gap(strong="strong_rmi", weak="weak_rmi", bins=10).keep_top(0.25)
        """
        strong = check_column_name(strong, "gap strong")
        weak = check_column_name(weak, "gap weak")
        ctx = self._context()
        if bins is None and ctx.bins is None:
            raise ConfigError("gap() needs bins= or a stratify() step before it (whose bins it reuses).")
        if bins is None:
            bins, min_rows = ctx.bins, ctx.min_rows if min_rows is None else min_rows
        min_rows = 2 if min_rows is None else min_rows
        strong_by = _model_nll_q(strong, "strong") if strong_by is None else strong_by
        weak_by = _model_nll_q(weak, "weak") if weak_by is None else weak_by
        return self._append(Gap(strong, weak, strong_by, weak_by, bins, min_rows, name))

    def score(self, column: str, *, ascending: bool = False, divide_by: str | None = None,
              name: str = "qaq_ratio") -> Selector:
        """Make a raw column, or the ratio ``column / divide_by``, the score ``keep_top`` ranks by.

        ``ascending=False`` (default): higher is better, keep_top keeps the largest values (e.g. IFD).
        ``ascending=True``: lower is better, keep_top keeps the smallest (e.g. perplexity).
        With ``divide_by`` the ratio is also an output column named ``name`` (Cherry_LLM's IFD is the ratio
        of mean losses ``nll_a_given_q / nll_a``).

        Input columns: ``column`` and ``divide_by`` (numeric).
        Output columns: ``name`` (float64) when ``divide_by`` is given, else none.

        Examples:
            >>> Selector().drop_where("strong_ifd", ">", 1, reason="ifd_gt_1").score("strong_ifd").keep_top(0.25)
            >>> Selector().score("strong_nll_a_given_q", divide_by="strong_nll_a", name="qaq_ifd_ratio")
        """
        return self._append(ScoreBy(column, ascending, divide_by, name))

    def closest_to(self, center: float = 0.5, *, name: str = "qaq_center_distance") -> Selector:
        """Score rows by ``|rank − center|`` of the latest rank, closest first: keep_top then keeps a band.

        Input columns: none (reads the latest rank).
        Output columns: ``name`` (float64 distance, NaN for rows not ranked).

        Examples:
            >>> Selector().stratify("qaq_nll_q").rank("qaq_rmi").closest_to(0.5).keep_top(0.25)
        """
        return self._append(ClosestTo(center, name))

    def random(self, seed: int = 0, *, name: str = "qaq_random") -> Selector:
        """A uniform random score per row, drawn with ``numpy.random.Generator(PCG64(seed))``.

        One draw per dataset row (row i always gets the i-th draw), so ``random(seed).keep_top(k)``
        is a seeded uniform sample of the surviving rows. The seed is stored in the plan.

        Input columns: none.
        Output columns: ``name`` (float64 in [0, 1)).

        Examples:
            >>> Selector().random(seed=0).keep_top(0.25)
        """
        return self._append(Random(seed, name))

    def keep_top(self, n: int | float) -> Selector:
        """Keep the ``n`` best alive rows by the current score; drop the rest as ``below_cut``.

        ``n`` is a fraction in (0, 1] (a float: of the rows the plan is fitted on, *not* of the
        survivors; rounded half up, at least 1) or a row count >= 1 (an int; ``1`` = one row,
        ``1.0`` = every row). When fewer rows survive, all are kept and the report notes it. Ties:
        by score, then row index ascending; rows with a NaN score (``keep_nan``) come last.

        Input columns: none (reads the current score).
        Output columns: none.

        Examples:
            >>> Selector().score("strong_nll_a_given_q", ascending=True).keep_top(1000)
        """
        return self._append(KeepTop(n))

    def with_fraction(self, n: int | float) -> Selector:
        """This plan with the budget of its last ``keep_top`` replaced by ``n`` (ConfigError if it has none)."""
        last = [i for i, step in enumerate(self._steps) if isinstance(step, KeepTop)][-1:]
        if last:
            return self._with_steps((*self._steps[: last[0]], KeepTop(n), *self._steps[last[0] + 1 :]))
        raise ConfigError("this plan has no keep_top() step whose budget could be changed.")

    @property
    def keep_nan(self) -> bool:
        return self._keep_nan

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The steps as dicts (``{"step": kind, **params}``), in order."""
        return [{"step": s.kind, **s.params()} for s in self._steps]

    # ------------------------------------------------------------------ fitting

    def fit(self, ds) -> Selection:
        """Fit the plan on ``ds`` (a ``datasets.Dataset`` with the score columns) → :class:`Selection`.

        Every column a step names is checked against ``ds.features`` first (ColumnError listing the
        available columns); only then is anything read. More bins than rows is no error: tied edges collapse
        and small bins merge, and the notes say so (a plan fitted on few, or no, rows still reports).
        """
        if not isinstance(ds, Dataset):
            hint = " (pick a split, e.g. ds['train'])" if isinstance(ds, DatasetDict) else ""
            raise ConfigTypeError(f"fit needs a datasets.Dataset, got {type(ds).__name__}{hint}.")
        kinds = {column: check_column(ds, column, kind, f"step {i} ({step.kind})")
                 for i, step in enumerate(self._steps) for column, kind in step.inputs()}
        state = FitState(len(ds), ColumnReader(ds))
        had_missing = np.zeros(state.n, dtype=bool)
        step_reports = []
        for i, step in enumerate(self._steps):
            before = state.alive.copy()
            missing = np.zeros(state.n, dtype=bool)
            for column, _ in step.inputs():
                missing |= before & state.reader.missing(column, kinds[column])
            if self._keep_nan:
                had_missing |= missing
            else:
                state.drop(missing, NAN_SCORE)
            fitted = step.run(state, state.alive & ~missing, i)
            step_reports.append({"step": step.kind, "params": step.params(), "rows_in": int(before.sum()),
                                 "rows_out": int(state.alive.sum()), "nan_rows": int(missing.sum()),
                                 "dropped": state.dropped_by(before), "fitted": fitted})
        plan = self.to_dict()
        report = build_report(state, step_reports, int((had_missing & state.alive).sum()), plan)
        return Selection(keep=state.alive, codes=state.code, reason_names=state.reasons, columns=state.outputs,
                         report=report, plan=plan)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """The plan as a plain dict (YAML/JSON-ready): format, version, keep_nan, steps."""
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION, "keep_nan": self._keep_nan, "steps": self.steps}

    @classmethod
    def from_dict(cls, plan: dict[str, Any]) -> Selector:
        """Rebuild a Selector from :meth:`to_dict`'s output (or a report, whose ``plan`` key holds one).

        Every step goes through the same checks as when built in Python; a bad plan raises ConfigError (one
        line, with the plan's values cut: a plan may come from anyone's file).
        """
        if not isinstance(plan, dict):
            raise ConfigError(f"a selection plan must be a mapping with a 'steps' list, got {type(plan).__name__}.")
        for key in ("plan", "selection"):  # a report, or a card's qaq: block
            if isinstance(plan.get(key), dict):
                return cls.from_dict(plan[key])
        unknown = sorted(str(k)[:40] for k in set(plan) - {"format", "version", "keep_nan", "steps"})
        if unknown:
            raise ConfigError(f"unknown plan keys: {', '.join(unknown[:10])}{' …' if len(unknown) > 10 else ''}.")
        if plan.get("format", PLAN_FORMAT) != PLAN_FORMAT:
            raise ConfigError(f"not a selection plan: format {str(plan.get('format'))[:40]!r} (expected "
                              f"{PLAN_FORMAT!r}).")
        version = plan.get("version", PLAN_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ConfigError(f"plan version must be an integer, got {type(version).__name__}.")
        if version > PLAN_VERSION:
            raise ConfigError(f"the plan's version is newer than this library understands ({PLAN_VERSION}).")
        if not isinstance(plan.get("steps"), list):
            raise ConfigError("a selection plan needs a 'steps' list.")
        if len(plan["steps"]) > MAX_STEPS:
            raise ConfigError(f"a selection plan has at most {MAX_STEPS} steps, this one {len(plan['steps'])}.")
        if not isinstance(keep_nan := plan.get("keep_nan", False), bool):
            raise ConfigTypeError(f"keep_nan must be true or false, got {type(keep_nan).__name__}.")
        selector, known = cls(keep_nan=keep_nan), [c.kind for c in Step.__subclasses__()]
        for i, entry in enumerate(plan["steps"]):
            if not isinstance(entry, dict) or "step" not in entry:
                raise ConfigError(f"plan step {i} must be a mapping with a 'step' key, got {type(entry).__name__}.")
            kind, params = entry["step"], {k: v for k, v in entry.items() if k != "step"}
            if kind not in known:
                raise ConfigError(f"plan step {i}: unknown step {str(kind)[:40]!r}; known: {', '.join(known)}.")
            if bad := [k for k in params if not isinstance(k, str)]:
                raise ConfigError(f"plan step {i} ({kind}): parameter names must be strings, got {str(bad[0])[:40]!r}.")
            method = getattr(selector, kind)
            try:
                inspect.signature(method).bind(**params)
                selector = method(**params)
            except TypeError as exc:
                raise ConfigError(f"plan step {i} ({kind}): {_cut(exc)}") from None
            except (QAQError, ValueError, OverflowError) as exc:  # the step's own check, its values cut
                raise (type(exc) if isinstance(exc, QAQError) else ConfigError)(
                    f"plan step {i} ({kind}): {_cut(exc)}") from None
        return selector

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The plan as YAML text; also written to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, source: str | os.PathLike) -> Selector:
        """Rebuild a Selector from YAML text or a YAML/JSON file path (``to_yaml``'s output, or a report).

        The YAML is read as plain data (no tags, no anchors or aliases: see
        :func:`qaq_datasets.publishing.card.load_yaml`); errors name the file and never repeat its text.
        """
        from ..publishing.card import load_yaml

        is_path = isinstance(source, str) and "\n" not in source and os.path.isfile(source)
        where = "the plan"
        if isinstance(source, os.PathLike) or is_path:
            where = f"the plan file {os.fspath(source)[:200]!r}"
            try:
                source = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {where}: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}.") \
                    from None
        if not isinstance(source, str):
            raise ConfigTypeError(f"from_yaml needs YAML text or a file path, got {type(source).__name__}.")
        data = load_yaml(source, where)
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a mapping with a 'steps' list (or the path of an existing file).")
        try:
            return cls.from_dict(data)
        except QAQError as exc:
            raise type(exc)(f"{where}: {exc}") from None

    # ------------------------------------------------------------------ dunder

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selector) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        args = [", ".join(f"{k}={v!r}" for k, v in s.params().items() if v is not None) for s in self._steps]
        return ("Selector(keep_nan=True)" if self._keep_nan else "Selector()") + "".join(
            f".{s.kind}({a})" for s, a in zip(self._steps, args))
