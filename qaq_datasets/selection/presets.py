"""Named plans, built with the same ``Selector`` API (the recommended QAQ plan and the baselines), and
:func:`load_plan`, which turns a preset name, a plan file, a plan dict or a Selector into a Selector.

==================  =======  =================================================================
name                models   plan
==================  =======  =================================================================
``default``         2        drop the rows the text checks flag (``check_*`` columns: looping,
                             prose where code was asked for, code in another language than
                             asked, Python that does not parse), then row-local thresholds at the
                             method's anchors: IFD > 1 (``ifd_gt_1``) and an improbable end of
                             answer (``end_unlikely``); then keep the ``fraction`` of rows
                             closest to a fixed profile of clean rows: the weak model's NLL(Q|A)
                             (how well the answer explains the question) and NLL(A) (``typical``)
``gap``             2        the paper's Diff-High as its text describes it: top ``fraction`` by
                             r_strong − r_weak, ranks within 10 nll_q bins of each model
``gap-global``      2        the same with global ranks, as the authors' README computes them
``sweet-spot``      1        rank RMI within nll_q bins; keep the ``fraction`` of rows whose rank
                             is closest to 0.5
``paper-band``      1        the paper's "RMI 50–75%": the within-bin ranks closest to 0.625, i.e.
                             the band [0.5, 0.75) at a 25% budget
``cherry``          1        Cherry_LLM's IFD as its code ranks: drop IFD > 1 (``ifd_gt_1``), keep
                             the highest ratio of mean losses nll_a_given_q / nll_a (strong model)
``superfiltering``  1        Superfiltering as its code ranks: drop IFD > 1, keep the highest
                             perplexity ratio ``ifd`` (its ``ifd_ppl``), with the *weak* model
``perplexity``      1        keep the lowest answer perplexity ``nll_a_given_q``
``random``          0        a seeded uniform sample of the scored rows
==================  =======  =================================================================

Every preset first drops the rows whose status is not OK (``not_ok_status``) for every model it reads
(``random``: every model of the data), so no preset keeps an unscorable row. Two-model presets read
``{strong}*`` and ``{weak}*`` columns (default ``strong_``/``weak_``); single-model presets read the model
named in the table, or ``prefix=``; ``scorers=`` (the prefixes of the scored data, e.g. from its ``qaq:``
block) picks the one model when there is only one.

The recommended plan's knobs live in :data:`DEFAULT_PARAMS` (one place to tune them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from ..checks import build_checks
from ..errors import ConfigError, ConfigTypeError, shown
from ..scoring.schema import OK_STATUSES, ScoreColumns, check_prefix
from .selector import Selector

#: the ``default`` plan's knobs (chosen by the worst set of the selection benchmark's tune half, see
#: docs/selection-benchmark.md). Every step reads one row alone, so no mix of other rows can move it: the thresholds
#: sit at the method's anchors (RMI / NLL(Q) is 0 where the answer tells nothing about the question and 1 where it
#: spells the question out; IFD is 1 where the question does not help the answer; nll_end and nll_q are nats), and
#: the final ranking measures each row against a fixed profile of clean rows.
DEFAULT_PARAMS = {
    # the text checks whose columns (check_{name}, see qaq_datasets.checks) drop a row: () for none
    "checks": ("looping", "missing_code", "wrong_language", "unparseable_code"),
    "rho_low": None,  # drop RMI / NLL(Q) below this (misaligned answers, fillers); None: left to ifd_max
    "rho_low_model": "weak",  # whose RMI / NLL(Q): "weak", "strong" or "both"
    "rho_high": None,  # drop RMI / NLL(Q) above this (echoes, restated questions); None: left to the final ranking
    "rho_high_model": "weak",
    "ifd_max": 1.0,  # drop IFD above this, for both models: the question makes the answer less likely
    "end_max": 15.0,  # drop a weak nll_end above this: the answer's end is improbable (cut off)
    "q_max": None,  # drop a weak nll_q above this: the question itself is improbable; None: left to the final ranking
    # the final ranking: "typical": closest to `profile`; "center": the strong within-bin RMI rank closest to
    # `center` (the method's stratified RMI); "gap": r_strong - r_weak
    "final": "typical",
    # {score column under the strong_/weak_ prefixes: [center, spread]} of the clean rows of the benchmark's tune half
    # (median, 1.4826 MAD), for the default models (gemma3-270m strong, smollm2-135m weak), standard template
    "profile": {"weak_nll_q_given_a": [1.65, 0.57], "weak_nll_a": [1.41, 0.77]},
    "bins": 10,  # quantile bins of PPL(Q) (= of {p}nll_q) for "center" and "gap"
    "min_rows": 2,  # smaller bins are merged into a neighbour
    "center": 0.5,
}

def _prefix(value: str, what: str) -> str:
    """``value`` as a scorer prefix (checked), with a trailing ``_`` added where it lacks one."""
    return check_prefix(value + "_" if isinstance(value, str) and not value.endswith("_") else value, what)


def _status_ok(*prefixes: str) -> Selector:
    sel = Selector()
    for p in dict.fromkeys(prefixes):
        sel = sel.drop_where(ScoreColumns(p).status, "not in", OK_STATUSES, reason="not_ok_status")
    return sel


def default_plan(strong: str = "strong_", weak: str = "weak_", fraction: int | float = 0.25, **knobs: Any) -> Selector:
    """The ``default`` plan with :data:`DEFAULT_PARAMS`, any of them replaced by ``knobs``.

    Examples:
        >>> default_plan(q_max=5.0)  # with the question fence
    """
    if unknown := sorted(set(knobs) - set(DEFAULT_PARAMS)):
        raise ConfigError(f"unknown default-plan knobs {unknown}; knobs: {', '.join(DEFAULT_PARAMS)}.")
    k = {**DEFAULT_PARAMS, **knobs}
    if k["final"] not in ("typical", "center", "gap"):
        raise ConfigError(f"default-plan final must be 'typical', 'center' or 'gap', got {shown(k['final'])}.")
    s, w = ScoreColumns(strong), ScoreColumns(weak)
    sel = _status_ok(strong, weak)
    for check in build_checks(k["checks"] or ()):  # None or (): no check
        sel = sel.drop_where(check.column, "==", 1, reason=check.name)
    for side, op in (("low", "<"), ("high", ">")):
        for m in {"both": (w, s), "weak": (w,), "strong": (s,)}[k[f"rho_{side}_model"]]:
            if k[f"rho_{side}"] is not None:
                sel = sel.drop_where(m.rmi, op, k[f"rho_{side}"], divide_by=m.nll_q, reason=f"rmi_{side}")
    upper = (("ifd_max", (w.ifd, s.ifd), "ifd_gt_1" if k["ifd_max"] == 1 else None),  # (knob, columns, reason)
             ("end_max", (w.nll_end,), "end_unlikely"), ("q_max", (w.nll_q,), "question_unlikely"))
    for knob, columns, reason in upper:
        for column in columns if k[knob] is not None else ():
            sel = sel.drop_where(column, ">", k[knob], reason=reason)
    if k["final"] == "typical":
        models, profile = {"strong_": s, "weak_": w}, {}
        for column, cs in k["profile"].items():  # strong_/weak_ columns → the plan's prefixes
            p, measure = ScoreColumns.parse(column) or (None, None)
            if p not in models:
                raise ConfigError(f"default-plan profile: {shown(column)} is no strong_ or weak_ score column.")
            profile[getattr(models[p], measure)] = cs
        return sel.typical(profile).keep_top(fraction)
    if k["final"] == "gap":
        return sel.gap(strong=s.rmi, weak=w.rmi, bins=k["bins"], min_rows=k["min_rows"]).keep_top(fraction)
    sel = sel.stratify(s.nll_q, k["bins"], min_rows=k["min_rows"]).rank(s.rmi)
    return sel.closest_to(k["center"]).keep_top(fraction)


def _band(c: ScoreColumns, center: float) -> Selector:  # RMI ranked within 10 bins of nll_q, closest to center first
    return _status_ok(c.prefix).stratify(c.nll_q, 10, min_rows=2).rank(c.rmi).closest_to(center)


def _ifd_ok(c: ScoreColumns) -> Selector:
    return _status_ok(c.prefix).drop_where(c.ifd, ">", 1, reason="ifd_gt_1")


def _gap(strong: str, weak: str, fraction, bins: int = DEFAULT_PARAMS["bins"]) -> Selector:
    gap = _status_ok(strong, weak).gap(strong=ScoreColumns(strong).rmi, weak=ScoreColumns(weak).rmi, bins=bins)
    return gap.keep_top(fraction)


#: two-model presets: name → the plan of (strong prefix, weak prefix, fraction)
_TWO_MODEL: dict[str, Callable[..., Selector]] = {
    "default": default_plan, "gap": _gap, "gap-global": partial(_gap, bins=1)}
#: single-model presets: name → (the model read unless told, the plan before keep_top on that model's columns c)
_ONE_MODEL: dict[str, tuple[str, Callable[[ScoreColumns], Selector]]] = {
    "sweet-spot": ("strong", partial(_band, center=0.5)),
    "paper-band": ("strong", partial(_band, center=0.625)),  # the band [0.5, 0.75) at a 25% budget
    # Cherry_LLM's code ranks by the ratio of mean losses, Superfiltering's by the perplexity ratio (its ifd_ppl)
    "cherry": ("strong", lambda c: _ifd_ok(c).score(c.nll_a_given_q, divide_by=c.nll_a, name="qaq_ifd_ratio")),
    "superfiltering": ("weak", lambda c: _ifd_ok(c).score(c.ifd)),
    "perplexity": ("strong", lambda c: _status_ok(c.prefix).score(c.nll_a_given_q, ascending=True)),
}


def list_presets() -> list[str]:
    """The preset names, recommended first."""
    return [*_TWO_MODEL, *_ONE_MODEL, "random"]


def preset(name: str, *, strong: str | None = None, weak: str | None = None, prefix: str | None = None,
           scorers: Iterable[str] | None = None, fraction: int | float = 0.25, seed: int = 0) -> Selector:
    """The named plan as a :class:`Selector` (see the module table for what each does).

    Args:
        name: one of :func:`list_presets`.
        strong, weak: the column prefixes of the strong and weak model (default ``strong_``/``weak_``; a
            missing trailing ``_`` is added).
        prefix: for single-model presets and ``random``, the one model's prefix (e.g. ``"qaq_"``); an error
            for two-model presets.
        scorers: the score-column prefixes the data holds (e.g. the scorers of its ``qaq:`` block). With one,
            single-model presets use it and two-model presets fail naming the presets that work with one model.
        fraction: the ``keep_top`` budget: a fraction of the rows in (float) or a row count (int).
        seed: the seed of ``random``.

    Examples:
        >>> preset("default").fit(scored).apply(scored)
        >>> preset("cherry", prefix="qaq_", fraction=0.1)
        >>> preset("sweet-spot", scorers=["weak_"])  # reads weak_rmi, weak_nll_q, weak_status
    """
    if name not in list_presets():
        raise ConfigError(f"unknown selection preset {name!r}; presets: {', '.join(list_presets())}.")
    scorers = [scorers] if isinstance(scorers, str) else scorers  # one prefix, not its characters
    known = [_prefix(p, "scorers") for p in scorers] if scorers is not None else None
    if name == "random":  # drop the unscorable rows of every model the data has
        ones = [prefix] if prefix else [p for p in (strong, weak) if p] or known or ["strong_", "weak_"]
        return _status_ok(*(_prefix(p, "prefix") for p in ones)).random(seed).keep_top(fraction)
    others = known is not None and len(known) > 1 and not (prefix or strong or weak)  # scored under other names
    if name in _ONE_MODEL:
        default_model, build = _ONE_MODEL[name]
        if unread := [o for o, v in (("strong", strong), ("weak", weak)) if v and (prefix or o != default_model)]:
            raise ConfigError(f"preset {name!r} reads one model, named by --prefix or --{default_model} (prefix=, "
                              f"{default_model}=): --{unread[0]} would not be read.")
        if others and f"{default_model}_" not in known:
            raise ConfigError(f"preset {name!r} reads {default_model}_ columns, but the rows were scored by "
                              f"{', '.join(known)}: name the model, e.g. --prefix {known[0]} (prefix=).")
        # the one named (only the model the preset reads may be, see above), else the data's one, else the default
        one = prefix or strong or weak or (known[0] if known and len(known) == 1 else f"{default_model}_")
        return build(ScoreColumns(_prefix(one, "prefix"))).keep_top(fraction)
    if prefix is not None:
        raise ConfigError(f"preset {name!r} compares two models (strong= and weak=); prefix= only applies "
                          "to single-model presets.")
    if known is not None and len(known) < 2 and strong is None and weak is None:
        raise ConfigError(f"preset {name!r} compares a strong and a weak model, but the scores hold {len(known)} "
                          f"model ({', '.join(known) or 'none'}); presets that work with one model: "
                          f"{', '.join([*_ONE_MODEL, 'random'])}.")
    if others and not {"strong_", "weak_"} <= set(known):
        raise ConfigError(f"preset {name!r} reads strong_ and weak_ columns, but the rows were scored by "
                          f"{', '.join(known)}: name the models, e.g. --strong {known[0]} --weak {known[1]} (strong=, "
                          "weak=).")
    strong, weak = _prefix(strong or "strong_", "strong"), _prefix(weak or "weak_", "weak")
    if strong == weak:
        raise ConfigError(f"preset {name!r} needs two different model prefixes, got {strong!r} twice.")
    return _TWO_MODEL[name](strong, weak, fraction)


def load_plan(plan: Any = "default", fraction: int | float | None = None, *, scorers=None,
              **preset_options: Any) -> Selector:
    """Resolve ``plan`` into a :class:`Selector`.

    Args:
        plan: a :class:`Selector`; a plan dict (``Selector.to_dict()``, or a report holding one); a
            preset name (:func:`~qaq_datasets.selection.presets.list_presets`); or the path of a
            YAML/JSON plan file (``Selector.to_yaml(path)``, or a saved report).
        fraction: when given, replaces the ``keep_top`` budget (preset ``fraction=``, or the plan's
            last ``keep_top``).
        scorers: the score-column prefixes of the data (see :func:`preset`); used by preset names only.
        **preset_options: ``strong=``, ``weak=``, ``prefix=``, ``seed=`` for a preset name; an error
            for any other kind of plan. Options given as None are ignored (CLI options left unset).

    Raises:
        ConfigError: unknown preset name (the message lists the presets), missing file, bad plan.

    Examples:
        >>> load_plan("default", fraction=0.1)
        >>> load_plan("plans/my_plan.yaml")
    """
    preset_options = {k: v for k, v in preset_options.items() if v is not None}
    if isinstance(plan, str) and plan in list_presets():
        return preset(plan, scorers=scorers, **preset_options, **({} if fraction is None else {"fraction": fraction}))
    if preset_options:
        raise ConfigError(f"options {', '.join(sorted(preset_options))} only apply to preset names, not to {plan!r}.")
    if isinstance(plan, dict):
        plan = Selector.from_dict(plan)
    elif isinstance(plan, (str, os.PathLike)) and Path(plan).is_file():
        plan = Selector.from_yaml(Path(plan))
    elif not isinstance(plan, Selector):  # a string or path: ConfigError; another type: ConfigTypeError
        raise (ConfigError if isinstance(plan, (str, os.PathLike)) else ConfigTypeError)(
            f"plan {shown(plan)} is neither a selection preset nor an existing plan file, a plan dict or a Selector; "
            f"presets: {', '.join(list_presets())}.")
    return plan if fraction is None else plan.with_fraction(fraction)
