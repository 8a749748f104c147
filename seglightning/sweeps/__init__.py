"""Sweep aggregation: collect a sweep's runs, aggregate over seeds, write the report.

The names below load on first use, so that importing ``seglightning`` (which registers the job
directory resolver of :mod:`.naming`) does not import matplotlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Cell": "cells", "aggregate": "cells", "cell_of": "cells", "class_names": "cells", "grid_columns": "cells",
    "metric_names": "cells", "SweepReport": "report", "build_report": "report", "summary": "report",
    "write_report": "report", "Run": "runs", "collect_runs": "runs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
