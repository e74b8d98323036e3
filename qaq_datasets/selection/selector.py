"""``Selector``: the immutable builder of a selection plan, its fitting, and its (de)serialisation.

A plan is a list of steps applied in order to the rows still alive. Fitting reads only the columns the
steps name (Arrow → numpy, vectorised; no text), on the whole dataset it is given. A plan may also carry the
thresholds of the text checks whose ``check_*`` columns it reads (``checks``): ``qaq select`` computes those
columns with them (:func:`~qaq_datasets.checks.add_checks`); ``fit`` only reads columns.

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
  ``drop_where`` reason (e.g. ``ifd_gt_1``, ``not_ok_status``, the text checks' ``looping``,
  ``missing_code``, ``wrong_language``, ``unparseable_code``), ``below_cut`` (outside keep_top's budget).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from datasets import Dataset, DatasetDict

from ..checks import add_checks, build_checks
from ..errors import ConfigError, ConfigTypeError, QAQError, check_params, first_line, shown
from . import filtering, scores  # noqa: F401  (importing a module registers its steps)
from .result import Selection
from .steps import NAN_SCORE, STEPS, FitState, Step, StepMethods, check_column

PLAN_FORMAT = "qaq-selection-plan"
PLAN_VERSION = 1
#: the most steps a plan may have (a plan file comes from anyone: 300,000 steps took a minute to read)
MAX_STEPS = 1000


class Selector(StepMethods):
    """Immutable builder of a selection plan; every method returns a new Selector.

    Each step is a method of the same name (``stratify``, ``rank``, ``gap``, ``drop_where``, ``keep_top``, …:
    ``Selector.from_dict``'s error lists them all); its parameters and docstring are those of the step's class
    (see :mod:`~qaq_datasets.selection.steps`).

    Args:
        keep_nan: keep rows with missing scores instead of dropping them as ``nan_score`` (see the
            module docs for exactly what happens to them). Default False.
        checks: thresholds of the text checks whose columns the plan reads, ``{name: {threshold: value}}``
            (e.g. ``{"looping": {"min_count": 6}}``; see :mod:`qaq_datasets.checks`): ``qaq select`` computes
            those columns with them. None: the columns the data has, or the checks' defaults.

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

    def __init__(self, *, keep_nan: bool = False, checks: Mapping[str, Mapping] | None = None):
        if not isinstance(keep_nan, bool):
            raise ConfigTypeError(f"keep_nan must be True or False, got {shown(keep_nan)}.")
        if checks is not None and not isinstance(checks, Mapping):
            raise ConfigTypeError(f"checks must map a check's name to its thresholds, got {type(checks).__name__}.")
        self._keep_nan, self._steps = keep_nan, ()
        self._checks = {c.name: c.params() for c in build_checks(checks)} if checks else None

    # ------------------------------------------------------------------ building

    def _append(self, step: Step) -> Selector:
        step = step.resolve(self._steps)
        if step.needs and not any(earlier.kind in step.needs[0] for earlier in self._steps):
            raise ConfigError(step.needs[1].format(self=step))
        for name in set(step.outputs()) & {name for earlier in self._steps for name in earlier.outputs()}:
            raise ConfigError(f"{step.kind}: an earlier step already computes a column named {name!r}; "
                              "pass name= to choose another.")
        return self._with_steps((*self._steps, step))

    def _with_steps(self, steps: tuple[Step, ...]) -> Selector:
        new = Selector(keep_nan=self._keep_nan)
        new._checks, new._steps = self._checks, steps  # checked once, when this plan was built; never mutated
        return new

    def with_fraction(self, n: int | float) -> Selector:
        """This plan with the budget of its last ``keep_top`` replaced by ``n`` (ConfigError if it has none)."""
        if not (last := [i for i, step in enumerate(self._steps) if isinstance(step, filtering.KeepTop)][-1:]):
            raise ConfigError("this plan has no keep_top() step whose budget could be changed.")
        return self._with_steps((*self._steps[: last[0]], filtering.KeepTop(n), *self._steps[last[0] + 1 :]))

    @property
    def checks(self) -> dict | None:
        """The text checks' thresholds the plan carries (``{name: {threshold: value}}``), or None."""
        return None if self._checks is None else {k: dict(v) for k, v in self._checks.items()}

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The steps as dicts (``{"step": kind, **params}``), in order."""
        return [{"step": s.kind, **s.params()} for s in self._steps]

    def add_checks(self, ds, text: Mapping | None = None, echo=None) -> tuple:
        """``(ds, recipe)``: ``ds`` with the text checks' columns this plan reads, computed with its ``checks``
        thresholds where it carries them or the data lacks them (:func:`~qaq_datasets.checks.add_checks`)."""
        return add_checks(ds, [s.get("column") or "" for s in self.steps], thresholds=self.checks, text=text, echo=echo)

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
        for i, step in enumerate(self._steps):  # every column checked before any is read
            for column, kind in step.inputs():
                check_column(ds, column, kind, f"step {i} ({step.kind})")
        state, step_reports = FitState(ds), []
        for i, step in enumerate(self._steps):
            before = state.alive.copy()
            missing = before & np.any([state.missing(c, kind) for c, kind in step.inputs()], axis=0)
            if not self._keep_nan:
                state.drop(missing, NAN_SCORE)
            fitted = step.run(state, state.alive & ~missing, i)
            step_reports.append({"step": step.kind, "params": step.params(), "rows_in": int(before.sum()),
                                 "rows_out": int(state.alive.sum()), "nan_rows": int(missing.sum()),
                                 "dropped": state.dropped_by(before), "fitted": fitted})
        # a row kept with keep_nan had a missing value where a step read it while it was alive
        had_missing = np.any([state.missing(c, kind) for s in self._steps for c, kind in s.inputs()], axis=0)
        return Selection(state, step_reports, int((had_missing & state.alive).sum()), self.to_dict())

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """The plan as a plain dict (YAML/JSON-ready): format, version, keep_nan, checks (when set), steps."""
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION, "keep_nan": self._keep_nan,
                **({} if self._checks is None else {"checks": self.checks}), "steps": self.steps}

    @classmethod
    def from_dict(cls, plan: dict[str, Any]) -> Selector:
        """Rebuild a Selector from :meth:`to_dict`'s output (or a report, whose ``plan`` key holds one).

        Every step goes through the same checks as when built in Python; a bad plan raises ConfigError (one
        line, with the plan's values cut: a plan may come from anyone's file).
        """
        if not isinstance(plan, dict):
            raise ConfigError(f"a selection plan must be a mapping with a 'steps' list, got {type(plan).__name__}"
                              f"{' (the path of a file that does not exist?)' if isinstance(plan, str) else ''}.")
        if (inner := next((plan[k] for k in ("plan", "selection") if isinstance(plan.get(k), dict)), None)) is not None:
            return cls.from_dict(inner)  # a report's plan, or a card's qaq: block
        if unknown := sorted(str(k)[:40] for k in set(plan) - {"format", "version", "keep_nan", "checks", "steps"}):
            raise ConfigError(f"unknown plan keys: {', '.join(unknown[:10])}{' …' if len(unknown) > 10 else ''}.")
        if plan.get("format", PLAN_FORMAT) != PLAN_FORMAT:
            raise ConfigError(f"not a selection plan: format {str(plan.get('format'))[:40]!r} (expected "
                              f"{PLAN_FORMAT!r}).")
        if type(version := plan.get("version", PLAN_VERSION)) is not int or not 1 <= version <= PLAN_VERSION:
            raise ConfigError(f"plan version must be an integer from 1 to {PLAN_VERSION} (a newer plan needs a newer "
                              f"library), got {shown(version)}.")
        if not isinstance(plan.get("steps"), list) or len(plan["steps"]) > MAX_STEPS:
            raise ConfigError(f"a selection plan needs a 'steps' list of at most {MAX_STEPS} steps.")
        try:
            selector = cls(keep_nan=plan.get("keep_nan", False), checks=plan.get("checks"))
        except QAQError as exc:
            raise type(exc)(f"plan: {first_line(exc, 300)}") from None
        for i, entry in enumerate(plan["steps"]):
            if not isinstance(entry, dict) or "step" not in entry:
                raise ConfigError(f"plan step {i} must be a mapping with a 'step' key, got {type(entry).__name__}.")
            kind, params = entry["step"], {k: v for k, v in entry.items() if k != "step"}
            if kind == "drop_broken_answers":  # a plan written before the text checks were columns
                raise ConfigError(f"plan step {i}: drop_broken_answers is now the text checks' columns: drop_where "
                                  "check_{name} == 1 for looping, missing_code, wrong_language, unparseable_code "
                                  "(see preset('default').to_yaml()).")
            if not isinstance(kind, str) or kind not in STEPS:  # a kind may be a list
                raise ConfigError(f"plan step {i}: unknown step {str(kind)[:40]!r}; known: {', '.join(STEPS)}.")
            check_params(STEPS[kind], params, f"plan step {i} ({kind})")
            try:  # a bad signature or parameter name, or the step's own check (whatever its type): its values cut
                selector = getattr(selector, kind)(**params)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ConfigError(f"plan step {i} ({kind}): {first_line(exc, 300)}") from None
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

        where = "the plan"
        if isinstance(source, os.PathLike) or isinstance(source, str) and os.path.isfile(source):
            where = f"the plan file {os.fspath(source)[:200]!r}"
            try:
                source = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"cannot read {where}: {getattr(e, 'strerror', None) or 'not UTF-8 text'}.") from None
        if not isinstance(source, str):
            raise ConfigTypeError(f"from_yaml needs YAML text or a file path, got {type(source).__name__}.")
        data = load_yaml(source, where)  # a mapping, else from_dict's error
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
        opts = ", ".join(f"{k}={v!r}" for k, v in (("keep_nan", self._keep_nan), ("checks", self._checks)) if v)
        return f"Selector({opts})" + "".join(f".{s.kind}({a})" for s, a in zip(self._steps, args))
