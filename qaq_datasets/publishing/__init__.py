"""Publishing: scored/curated configs, card, plan, report and figures to the Hub (or a local folder).

- :func:`publish` — one repo with configs ``scored`` and ``curated``, the card, ``qaq_plan.yaml``,
  ``qaq_report.json`` and the figures; ``dry_run=FOLDER`` writes the same layout locally.
- :func:`publish_folder` — the same from ``qaq score``/``qaq select`` output folders (the CLI hook).
- :func:`load_scored` — scored rows plus their ``qaq:`` metadata, from the Hub or a folder.
- :func:`save_folder` — a Hub-layout folder (parquet + README with ``configs:`` and ``qaq:``).
"""

from .folder import save_folder
from .from_folders import publish_folder
from .load import load_scored
from .push import publish
from .selection_data import SelectionData

__all__ = ["SelectionData", "load_scored", "publish", "publish_folder", "save_folder"]
