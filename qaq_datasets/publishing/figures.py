"""Histograms of RMI and IFD, kept vs dropped rows, as PNG bytes for the dataset card.

matplotlib (extra ``figures``) is imported inside the functions, and only its Agg canvas is used
(no pyplot, no change to the user's global backend).

Input columns
    ``{p}rmi`` and ``{p}ifd`` (float) for every scorer prefix ``p``.

Output columns
    None: PNG files ``figures/{name}_rmi.png`` and ``figures/{name}_ifd.png``.

Examples
    >>> import numpy as np
    >>> png = histogram_png({"kept": np.array([1.0, 2.0]), "dropped": np.array([0.0])}, title="t", xlabel="x")
    >>> png[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from ..errors import require
from ..scoring.schema import scorer_name

_COLORS = {"kept": "#2a9d8f", "dropped": "#e76f51", "all rows": "#457b9d"}
_METRICS = {"rmi": "RMI = NLL(Q) − NLL(Q | A)", "ifd": "IFD = exp(NLL(A | Q) − NLL(A))"}


def available() -> bool:
    """True when matplotlib can be imported."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def histogram_png(groups: dict[str, np.ndarray], *, title: str, xlabel: str, bins: int = 40) -> bytes:
    """One PNG with an overlaid histogram per group (non-finite values ignored; 0.5–99.5 % range)."""
    require("matplotlib", extra="figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    finite = {k: np.asarray(v, dtype=np.float64)[np.isfinite(v)] for k, v in groups.items()}
    every = np.concatenate([v for v in finite.values()] or [np.zeros(0)])
    fig = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if every.size:
        lo, hi = np.percentile(every, [0.5, 99.5])
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        for name, values in finite.items():
            if values.size:
                ax.hist(np.clip(values, lo, hi), bins=edges, alpha=0.6, color=_COLORS.get(name),
                        label=f"{name} ({values.size})")
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no finite scores", ha="center", va="center", transform=ax.transAxes)
    ax.set(title=title, xlabel=xlabel, ylabel="rows")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def score_figures(ds, keep: np.ndarray | None, prefixes: list[str], want: bool | None = None):
    """``([{path, alt, png}], note)``: RMI and IFD histograms per scorer prefix, kept vs dropped (or all rows).

    ``want``: False draws nothing; None draws when matplotlib is installed, else returns a note (and warns).
    """
    if want is False:
        return [], None
    if want is None and not available():
        note = "Histograms were not drawn: install `qaq-datasets[figures]` (matplotlib) and publish again."
        warnings.warn(note, stacklevel=3)
        return [], note
    out = []
    for p, metric in ((p, m) for p in prefixes for m in _METRICS):
        col = f"{p}{metric}"
        if col not in ds.column_names:
            continue
        values = np.asarray(ds.with_format("numpy")[col], dtype=np.float64)
        groups = {"kept": values[keep], "dropped": values[~keep]} if keep is not None else {"all rows": values}
        png = histogram_png(groups, title=f"{col}: kept vs dropped" if keep is not None else col,
                            xlabel=_METRICS[metric])
        out.append({"path": f"figures/{scorer_name(p)}_{metric}.png", "alt": f"{col} histogram", "png": png})
    return out, None
