"""QAQ data selection: build a plan with :class:`Selector`, ``fit`` it on a scored dataset.

A scored dataset has, per model prefix ``p``, the columns ``{p}nll_q``, ``{p}nll_q_given_a``,
``{p}nll_a``, ``{p}nll_a_given_q``, ``{p}rmi``, ``{p}ifd`` and ``{p}status`` (see
``docs/architecture.md``). RMI = nll_q − nll_q_given_a grows with the question's perplexity, so it
is ranked, or fenced, *within* quantile bins of ``{p}nll_q``; outliers at both ends are defects (low:
the answer is unrelated to the question; very high: it echoes the question), and ``drop_outliers``
finds them with fences fitted to each bin's own distribution rather than a fixed fraction.
With a strong and a weak model,
the cognitive gap Diff = r_strong − r_weak picks the rows the strong model "gets" and the weak one
does not; keeping the top 25% by Diff is the paper's headline plan.

Examples:
    >>> import qaq_datasets.selection as qs
    >>> plan = (qs.Selector()
    ...         .stratify("weak_nll_q", bins=10)
    ...         .drop_outliers("weak_rmi", low=2.0, high=3.0)
    ...         .gap(strong="strong_rmi", weak="weak_rmi")
    ...         .keep_top(0.25))
    >>> selection = plan.fit(scored)
    >>> curated = selection.apply(scored)
    >>> selection.report["drop_reasons"]
    >>> qs.preset("cherry").fit(scored)          # a baseline
    >>> qs.load_plan("plan.yaml", fraction=0.1)  # a saved plan
"""

from .presets import DEFAULT_PARAMS, list_presets, load_plan, preset
from .selection import Selection
from .selector import Selector

__all__ = ["DEFAULT_PARAMS", "Selection", "Selector", "list_presets", "load_plan", "preset"]
