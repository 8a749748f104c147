"""Loss terms that a model owns (``model.loss_terms``: auxiliary heads, Gated-SCNN's edge terms)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCHEDULE_VALUES = ("start", "step", "min", "max")


def with_model_terms(main: list[dict[str, Any]], model_terms: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user's loss terms plus the terms a model owns (``model.loss_terms``).

    A model term with ``name: None`` means "the main loss on another output": every main term is
    repeated on the term's ``input`` (e.g. ``aux_logits``) with its weight, or its schedule, scaled
    by the term's weight (the auxiliary-head recipe of FastFCN/torchvision, 0.4).
    """
    out = [dict(t) for t in main]
    for term in model_terms:
        if term.get("name") is not None:
            out.append(dict(term))
            continue
        scale = float(term.get("weight", 1.0))
        for m in main:
            copy = {**m, "input": term["input"]}
            if m.get("schedule"):
                copy["schedule"] = {k: v * scale if k in SCHEDULE_VALUES and v is not None else v for k, v in m["schedule"].items()}
            elif isinstance(m.get("weight", 1.0), (int, float)):
                copy["weight"] = scale * m.get("weight", 1.0)
            else:  # a non-numeric `weight` is the loss's class weighting (e.g. wce median_frequency)
                copy["kwargs"] = {**m.get("kwargs", {}), "weight": m["weight"]}
                copy["weight"] = scale
            out.append(copy)
    return out
