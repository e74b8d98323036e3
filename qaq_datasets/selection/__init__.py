"""QAQ data selection: build a plan with :class:`Selector`, ``fit`` it on a scored dataset.

A scored dataset has, per model prefix ``p``, the columns ``{p}nll_q``, ``{p}nll_q_given_a``,
``{p}nll_a``, ``{p}nll_a_given_q``, ``{p}rmi``, ``{p}ifd`` and ``{p}status`` (see
``docs/architecture.md``). RMI = nll_q − nll_q_given_a grows with the question's perplexity, so it
is ranked *within* quantile bins of ``{p}nll_q``. Both ends are defects (low: the answer is unrelated
to the question; very high: it echoes the question); ``drop_where`` drops them at thresholds that read
one row each (``divide_by=`` for RMI / NLL(Q)), ``drop_outliers`` with fences fitted per bin. With a
strong and a weak model,
the cognitive gap Diff = r_strong − r_weak picks the rows the strong model "gets" and the weak one
does not; keeping the top 25% by Diff is the paper's headline plan.

Examples:
    >>> import qaq_datasets.selection as qs
    >>> plan = (qs.Selector()
    ...         .drop_where("weak_rmi", ">", 0.7, divide_by="weak_nll_q", reason="rmi_high")
    ...         .gap(strong="strong_rmi", weak="weak_rmi")
    ...         .keep_top(0.25))
    >>> selection = plan.fit(scored)
    >>> curated = selection.apply(scored)
    >>> selection.report["drop_reasons"]
    >>> qs.preset("cherry").fit(scored)          # a baseline
    >>> qs.load_plan("plan.yaml", fraction=0.1)  # a saved plan
"""

from .presets import DEFAULT_PARAMS, list_presets, load_plan, preset
from .result import Selection
from .selector import Selector

__all__ = ["DEFAULT_PARAMS", "Selection", "Selector", "list_presets", "load_plan", "preset"]
