"""The metrics table printed at the end of a run (and by ``seglightning-eval``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# the headline metrics of runs and sweep reports (those a run logged: the opt-in families' too);
# lower is better for calibration and surface distances
OBJECT_SCORES = tuple(f"{kind}@{size}" for kind in ("recall", "detected") for size in ("small", "medium", "large"))
HEADLINE = ("mIoU", "mDice", "bF1", "bIoU", "pixel_acc", "ECE", "Brier", "NLL", "HD95", "ASSD",
            "iIoU_class", "IoU_category", "iIoU_category", *OBJECT_SCORES)
LOWER_IS_BETTER = frozenset({"ECE", "Brier", "NLL", "HD95", "ASSD"})


def test_label(split: str | None) -> str:
    """``test``, or ``test (= val)`` when the test pass ran on another split (no test split)."""
    return "test" if split in (None, "test") else f"test (= {split})"


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"


def print_metrics(result: dict[str, Any], class_names: Sequence[str] | None = None) -> None:
    """Headline metrics (final / best epoch / test) and per-class IoU, as a rich table."""
    columns = [("final", "val/"), ("best", "val/"), ("test", "test/")]
    columns = [(c, p) for c, p in columns if result.get(c)]
    table = Table(title="seglightning metrics")
    table.add_column("metric")
    for c, _ in columns:
        label = test_label(result.get("test_split")) if c == "test" else c
        epoch = f" (epoch {result['best'].get('epoch', '?')})" if c == "best" else ""
        table.add_column(label + epoch, justify="right")
    names = [*HEADLINE, "loss"] + [f"IoU/{n}" for n in (class_names or [])]
    for name in names:
        values = [result[c].get(p + name) for c, p in columns]
        if any(v is not None for v in values):
            table.add_row(name, *(_fmt(v) for v in values))
    Console().print(table)
