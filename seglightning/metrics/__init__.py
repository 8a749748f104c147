"""Segmentation metrics: dataset-level confusion-matrix scores and boundary F1."""

from seglightning.metrics.confusion import ConfusionMetrics, per_class_table, scores_from_confmat

__all__ = ["ConfusionMetrics", "per_class_table", "scores_from_confmat"]
