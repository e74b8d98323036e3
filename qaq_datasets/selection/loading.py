"""``load_plan``: turn a preset name, a plan file, a plan dict or a Selector into a Selector."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ConfigTypeError
from .presets import list_presets, preset
from .selector import Selector


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
        options = {**preset_options, "scorers": scorers}
        if fraction is not None:
            options["fraction"] = fraction
        return preset(plan, **options)
    if preset_options:
        raise ConfigError(f"options {', '.join(sorted(preset_options))} only apply to preset names, not to {plan!r}.")
    if isinstance(plan, Selector):
        selector = plan
    elif isinstance(plan, dict):
        selector = Selector.from_dict(plan)
    elif isinstance(plan, (str, os.PathLike)):
        path = Path(plan)
        if not path.is_file():
            raise ConfigError(f"{os.fspath(plan)!r} is neither a selection preset nor an existing plan file; "
                              f"presets: {', '.join(list_presets())}.")
        selector = Selector.from_yaml(path)
    else:
        raise ConfigTypeError(
            f"plan must be a preset name, a plan file path, a plan dict or a Selector, got {type(plan).__name__}."
        )
    return selector if fraction is None else selector.with_fraction(fraction)
