"""Publishing: scored/curated configs, card, plan and report to the Hub (or a local folder).

- :func:`publish` — one repo with configs ``scored`` and ``curated``, the card, ``qaq_plan.yaml``,
  ``qaq_report.json``; ``dry_run=FOLDER`` writes the same layout locally.
- :func:`publish_folder` — the same from ``qaq score``/``qaq select`` output folders: the saved plan is
  re-fitted on the scored rows, and refused when it was fitted on other rows.
- :func:`load_scored` — scored rows plus their ``qaq:`` metadata, from the Hub or a folder.
- :func:`save_folder` — a Hub-layout folder (parquet + README with ``configs:`` and ``qaq:``), written atomically.
- :func:`save_selection` / :func:`load_selection` — a selection folder (curated rows, plan, report and the
  :func:`rows_identity` of the rows it was fitted on), and the plan re-fitted from it (refused on other rows, or
  when the folder's plan or report was edited).
- :func:`check_out_dir` — refuse an empty output path, a file in its place, or a non-empty folder qaq did not
  write, before any work.

What is read from others (cards, plan files, data files, prefixes) and how it is checked: docs/trust-boundaries.md.
"""

from .folder import check_out_dir, load_selection, rows_identity, save_folder, save_selection
from .metadata import load_scored
from .push import publish, publish_folder

__all__ = ["check_out_dir", "load_scored", "load_selection", "publish", "publish_folder", "rows_identity",
           "save_folder", "save_selection"]
