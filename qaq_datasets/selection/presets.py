"""Named plans, built with the same ``Selector`` API: the recommended QAQ plan and the baselines.

=================  =======  ==================================================================
name               models   plan
=================  =======  ==================================================================
``default``        2        drop not-ok rows; weak-RMI extremes and strong-RMI extremes
                            (each ranked within its own model's nll_q bins); the least likely
                            answer ends (weak ``nll_end``: cut-off answers); keep the top
                            ``fraction`` by cognitive gap r_strong − r_weak
``gap``            2        drop not-ok rows; keep the top ``fraction`` by cognitive gap
                            (the paper's headline: top 25% by Diff)
``sweet-spot``     1        drop not-ok rows; rank RMI within nll_q bins; keep the
                            ``fraction`` of rows whose rank is closest to the centre rank
``cherry``         1        Cherry-LLM IFD: drop not-ok rows and IFD >= 1 (``ifd_ge_1``),
                            keep the highest IFD (strong model by default)
``superfiltering`` 1        Cherry-LLM IFD with the *weak* model's scores (Superfiltering)
``perplexity``     1        keep the lowest answer perplexity ``nll_a_given_q`` (the common
                            perplexity baseline: the answers the model finds most likely)
``random``         0        a seeded uniform sample (reads no score column)
=================  =======  ==================================================================

Two-model presets read ``{strong}*`` and ``{weak}*`` columns (default ``strong_``/``weak_``).
Single-model presets read the model named in the table (``sweet-spot``: strong, ``perplexity``:
strong), or the one given by ``prefix=`` (e.g. ``preset("cherry", prefix="qaq_")``).

The recommended plan's knobs live in :data:`DEFAULT_PARAMS` (one place to tune them).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError, ConfigTypeError
from ..scoring.schema import OK_STATUSES
from .selector import Selector

#: tuning knobs of the ``default`` plan (change them here; benchmarks decide the values)
DEFAULT_PARAMS = {
    "bins": 10,  # quantile bins of PPL(Q) (= of {p}nll_q)
    "min_rows": 2,  # smaller bins are merged into a neighbour
    "weak_extremes": (0.2, 0.95),  # drop weak-model within-bin RMI ranks below / above these
    "strong_extremes": (0.2, 0.95),  # same for the strong model
    # incomplete answers (cut off by a generation limit): the least likely ends of answer, by the weak
    # (instruction-tuned, real end-of-turn token) model's nll_end, ranked within the same PPL(Q) bins
    "end_model": "weak",
    "end_high": 0.9,
}

#: knobs of the ``sweet-spot`` plan
SWEET_SPOT_PARAMS = {"bins": 10, "min_rows": 2, "center": 0.5, "model": "strong"}

def _prefix(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigTypeError(f"{what} must be a non-empty column prefix like 'strong_', got {value!r}.")
    return value if value.endswith("_") else value + "_"


def _status_ok(sel: Selector, *prefixes: str) -> Selector:
    for p in prefixes:
        sel = sel.drop_where(f"{p}status", "not in", OK_STATUSES, reason="not_ok_status")
    return sel


def _default(strong: str, weak: str, fraction, seed) -> Selector:
    k = DEFAULT_PARAMS
    sel = _status_ok(Selector(), strong, weak)
    for p, (low, high) in ((weak, k["weak_extremes"]), (strong, k["strong_extremes"])):
        sel = sel.stratify(f"{p}nll_q", k["bins"], min_rows=k["min_rows"]).rank(f"{p}rmi").drop_extremes(low, high)
    e = weak if k["end_model"] == "weak" else strong
    sel = sel.stratify(f"{e}nll_q", k["bins"], min_rows=k["min_rows"]).rank(f"{e}nll_end").drop_extremes(0.0, k["end_high"])
    return sel.gap(strong=f"{strong}rmi", weak=f"{weak}rmi").keep_top(fraction)


def _gap(strong: str, weak: str, fraction, seed) -> Selector:
    sel = _status_ok(Selector(), strong, weak)
    return sel.gap(strong=f"{strong}rmi", weak=f"{weak}rmi", bins=DEFAULT_PARAMS["bins"]).keep_top(fraction)


def _sweet_spot(p: str, fraction, seed) -> Selector:
    k = SWEET_SPOT_PARAMS
    sel = _status_ok(Selector(), p).stratify(f"{p}nll_q", k["bins"], min_rows=k["min_rows"]).rank(f"{p}rmi")
    return sel.closest_to(k["center"]).keep_top(fraction)


def _ifd(p: str, fraction, seed) -> Selector:
    sel = _status_ok(Selector(), p).drop_where(f"{p}ifd", ">=", 1, reason="ifd_ge_1")
    return sel.score(f"{p}ifd").keep_top(fraction)


def _perplexity(p: str, fraction, seed) -> Selector:
    return _status_ok(Selector(), p).score(f"{p}nll_a_given_q", ascending=True).keep_top(fraction)


def _random(p: str, fraction, seed) -> Selector:
    return Selector().random(seed).keep_top(fraction)


# name → (models: 2 = strong+weak, 1 = one model, 0 = none; default model of a 1-model preset; builder)
_PRESETS: dict[str, tuple[int, str | None, Callable[..., Selector]]] = {
    "default": (2, None, _default),
    "gap": (2, None, _gap),
    "sweet-spot": (1, SWEET_SPOT_PARAMS["model"], _sweet_spot),
    "cherry": (1, "strong", _ifd),
    "superfiltering": (1, "weak", _ifd),
    "perplexity": (1, "strong", _perplexity),
    "random": (0, None, _random),
}


def list_presets() -> list[str]:
    """The preset names, recommended first."""
    return list(_PRESETS)


def preset(
    name: str,
    *,
    strong: str = "strong_",
    weak: str = "weak_",
    prefix: str | None = None,
    fraction: int | float = 0.25,
    seed: int = 0,
) -> Selector:
    """The named plan as a :class:`Selector` (see the module table for what each does).

    Args:
        name: one of :func:`list_presets`.
        strong, weak: the column prefixes of the strong and weak model (a missing trailing ``_`` is added).
        prefix: for single-model presets, the one model's prefix (e.g. ``"qaq_"``, the scorer's default);
            an error for two-model presets.
        fraction: the ``keep_top`` budget: a fraction of the rows in (float) or a row count (int).
        seed: the seed of ``random``.

    Examples:
        >>> preset("default").fit(scored).apply(scored)
        >>> preset("cherry", prefix="qaq_", fraction=0.1)
    """
    if name not in _PRESETS:
        raise ConfigError(f"unknown selection preset {name!r}; presets: {', '.join(_PRESETS)}.")
    models, default_model, build = _PRESETS[name]
    strong, weak = _prefix(strong, "strong"), _prefix(weak, "weak")
    if models == 2:
        if prefix is not None:
            raise ConfigError(
                f"preset {name!r} compares two models (strong={strong!r}, weak={weak!r}); prefix= only "
                "applies to single-model presets."
            )
        if strong == weak:
            raise ConfigError(f"preset {name!r} needs two different model prefixes, got {strong!r} twice.")
        return build(strong, weak, fraction, seed)
    one = _prefix(prefix, "prefix") if prefix is not None else (strong if default_model == "strong" else weak)
    return build(one, fraction, seed)
