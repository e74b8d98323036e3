"""The selection plan (YAML) and report (JSON) files uploaded next to the data.

Examples
    >>> import numpy as np
    >>> to_builtin({"a": np.int64(3), "b": (np.float32(0.5),)})
    {'a': 3, 'b': [0.5]}
    >>> plan_bytes({"steps": [{"min": 1}]}).decode()
    'steps:\\n- min: 1\\n'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PLAN_FILE = "qaq_plan.yaml"
REPORT_FILE = "qaq_report.json"


def to_builtin(value: Any) -> Any:
    """Numpy scalars/arrays, tuples and mappings → plain Python (YAML/JSON-safe) values."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_builtin(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_builtin(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def plan_bytes(plan: Mapping) -> bytes:
    """The plan as YAML (``Selector.from_dict(yaml.safe_load(...))`` rebuilds the selector)."""
    import yaml

    return yaml.safe_dump(to_builtin(plan), sort_keys=False, allow_unicode=True).encode("utf-8")


def report_bytes(report: Mapping) -> bytes:
    """The report as indented JSON."""
    return (json.dumps(to_builtin(report), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
