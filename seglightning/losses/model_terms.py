"""Loss terms that a model owns (``model.loss_terms``: auxiliary heads, Gated-SCNN's edge terms)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .spec import LossSpec, normalize_loss_spec


def with_model_terms(spec: LossSpec, model_terms: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The user's loss terms (any spec form) plus the terms a model owns, normalised.

    A model term with ``name: None`` means "the main loss on another output": every main term is
    repeated on the term's ``input`` (e.g. ``aux_logits``) with its weight, or its schedule's
    values, scaled by the term's weight (the auxiliary-head recipe of FastFCN/torchvision, 0.4).
    """
    main = normalize_loss_spec(spec)
    out = list(main)
    for term in model_terms:
        if term.get("name") is not None:
            out += normalize_loss_spec([term])
            continue
        scale = float(term.get("weight", 1.0))
        for m in main:
            copy = {**m, "input": term["input"]}
            if "schedule" in m:
                copy["schedule"] = {k: None if v is None else v * scale for k, v in m["schedule"].items()}
            else:
                copy["weight"] = scale * m["weight"]
            out.append(copy)
    return out
