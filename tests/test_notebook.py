"""The committed walk-through notebook is valid, was executed, and shows its figures without errors."""

from pathlib import Path

import nbformat

NB = Path(__file__).resolve().parents[1] / "notebooks" / "qaq_paper_figures.ipynb"


def test_notebook_is_executed_with_figures_and_no_errors():
    nb = nbformat.read(NB, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "notebook committed without running every cell"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # RMI vs -log IFD, heteroscedasticity, fitted fences, per-bin, extremes
    text = "".join(o.get("text", "") for o in outputs)
    assert "drop reasons" in text and "of kept" in text and "drop_outliers" in text  # the fitted fences
