"""What publishing needs from a selection, from a live ``Selection`` or from files.

A ``Selection`` (see ``docs/architecture.md``) has ``.plan``, ``.report``, ``.keep``, ``.reasons`` and
``.apply(ds)``. The CLI publishes from folders instead: the curated rows plus ``qaq_plan.yaml`` and
``qaq_report.json`` written by ``qaq select``. :class:`SelectionData` holds either, and
:meth:`SelectionData.resolve` checks it against the scored rows and fills in what it can
(the curated rows from ``keep``, or ``keep`` from the curated rows).

Input columns
    ``qaq_keep`` (bool) and ``qaq_drop_reason`` (string), when the scored rows carry them
    (``Selection.annotate``); otherwise none.

Output columns
    None; the curated rows are whatever ``Selection.apply`` returned.

Examples
    >>> import numpy as np
    >>> from datasets import Dataset
    >>> ds = Dataset.from_dict({"x": [1, 2, 3]})
    >>> sel = SelectionData(plan={}, report={"rows_in": 3}, keep=np.array([True, False, True])).resolve(ds)
    >>> list(sel.curated["x"])
    [1, 3]
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from ..errors import ConfigError, ConfigTypeError
from .serialize import PLAN_FILE, REPORT_FILE, to_builtin


@dataclass(frozen=True)
class SelectionData:
    """A selection as data: plan, report, curated rows and (when known) per-row keep/reasons."""

    plan: dict
    report: dict
    curated: Dataset | DatasetDict | None = None
    keep: np.ndarray | None = None
    reasons: list | None = None

    @classmethod
    def coerce(cls, selection: Any, scored: Dataset) -> SelectionData | None:
        """A resolved :class:`SelectionData` from None, a ``SelectionData`` or a ``Selection``-like object."""
        if selection is None:
            return None
        if isinstance(selection, SelectionData):
            return selection.resolve(scored)
        needed = ("plan", "report", "keep", "apply")
        if not all(hasattr(selection, a) for a in needed):
            raise ConfigTypeError(
                "selection must be a qaq Selection (with .plan, .report, .keep, .apply) or a "
                f"publishing.SelectionData, got {type(selection).__name__}."
            )
        keep = np.asarray(selection.keep, dtype=bool)
        _check_length(len(keep), len(scored), "the selection's keep mask")
        reasons = getattr(selection, "reasons", None)
        data = cls(
            plan=to_builtin(dict(selection.plan)),
            report=to_builtin(dict(selection.report)),
            curated=selection.apply(scored),
            keep=keep,
            reasons=list(reasons) if reasons is not None else None,
        )
        return data.resolve(scored)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> SelectionData:
        """Read a ``qaq select --out DIR`` folder: curated rows, ``qaq_plan.yaml``, ``qaq_report.json``."""
        import yaml

        from .load import load_folder_config

        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"Selection folder {str(folder)!r} does not exist.")
        for name in (PLAN_FILE, REPORT_FILE):
            if not (folder / name).is_file():
                raise ConfigError(f"Selection folder {str(folder)!r} has no {name}; was it written by `qaq select`?")
        try:
            plan = yaml.safe_load((folder / PLAN_FILE).read_text(encoding="utf-8")) or {}
            report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ConfigError(f"Cannot parse the plan/report in {str(folder)!r}: {exc}") from exc
        if not isinstance(plan, dict) or not isinstance(report, dict):
            raise ConfigError(f"The plan and report in {str(folder)!r} must be mappings.")
        curated = load_folder_config(folder, "curated")
        return cls(plan=plan, report=report, curated=curated)

    def resolve(self, scored: Dataset) -> SelectionData:
        """Check this selection against ``scored`` (the split it was fitted on) and fill keep/curated."""
        rows_in = self.report.get("rows_in") if isinstance(self.report, dict) else None
        if rows_in is not None:
            _check_length(int(rows_in), len(scored), "the selection report's rows_in")
        keep, reasons, curated = self.keep, self.reasons, self.curated
        if keep is not None:
            keep = np.asarray(keep, dtype=bool)
            _check_length(len(keep), len(scored), "the selection's keep mask")
        elif "qaq_keep" in scored.column_names:
            keep = np.asarray(scored["qaq_keep"], dtype=bool)
            if reasons is None and "qaq_drop_reason" in scored.column_names:
                reasons = list(scored["qaq_drop_reason"])
        elif curated is not None:
            keep = match_keep(scored, _one_split(curated))
        if reasons is not None and len(reasons) != len(scored):
            raise ConfigError(f"The selection has {len(reasons)} drop reasons for {len(scored)} scored rows.")
        if curated is None:
            if keep is None:
                raise ConfigError("A selection needs either its curated rows or a per-row keep mask.")
            curated = scored.select(np.flatnonzero(keep))
        return replace(self, keep=keep, reasons=reasons, curated=curated)


def _check_length(got: int, want: int, what: str) -> None:
    if got != want:
        raise ConfigError(
            f"The selection does not match the scored dataset: {what} covers {got} rows, the dataset has "
            f"{want}. Fit the selection on the same rows (and split) you publish."
        )


def _one_split(ds: Dataset | DatasetDict) -> Dataset:
    if isinstance(ds, DatasetDict):
        return ds["train"] if "train" in ds else next(iter(ds.values()))
    return ds


def match_keep(scored: Dataset, curated: Dataset) -> np.ndarray | None:
    """Recover the keep mask by matching curated rows back to scored rows (None when they do not match).

    Rows are compared on the numeric columns both share (the scores), or on every shared scalar column
    when there is no numeric one, as a multiset (duplicates are fine).
    """
    from datasets import Value

    shared = [
        c for c in scored.column_names
        if c in curated.features and isinstance(scored.features[c], Value) and isinstance(curated.features[c], Value)
    ]
    # the float scores identify a row; text columns only when there are none (cheaper on big data)
    numeric = [c for c in shared if scored.features[c].dtype.startswith(("float", "int"))]
    cols = numeric or shared
    if not cols or len(curated) > len(scored):
        return None
    import pandas as pd

    def hashes(ds: Dataset) -> np.ndarray:
        df = ds.select_columns(cols).to_pandas()
        return pd.util.hash_pandas_object(df, index=False).to_numpy()

    wanted = Counter(hashes(curated).tolist())
    keep = np.zeros(len(scored), dtype=bool)
    for i, h in enumerate(hashes(scored).tolist()):
        if wanted.get(h):
            wanted[h] -= 1
            keep[i] = True
    return keep if int(keep.sum()) == len(curated) else None
