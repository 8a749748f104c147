"""Loss specs (config group ``loss``): how a spec is read, and how it is named in tags and reports.

Spec forms::

    "ce"                                          # a name
    {name: dice, per_image: true, weight: 2.0}    # a name, its options, optionally term keys
    {terms: [{name: ce, weight: 1.0}, {name: dice, weight: 1.0}]}
    [{name: dice, schedule: {start: 1.0, step: -0.01, min: 0.1}},
     {name: boundary, schedule: {start: 0.01, step: 0.01}},
     {name: ce, input: aux_logits, weight: 0.4}]  # list form (= the terms list)

``normalize_loss_spec`` turns each form into its list of terms; everything that reads a loss spec
(``build_loss``, the training loop, ``with_model_terms``, tags and report labels) goes through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TERM_KEYS = ("name", "weight", "schedule", "input", "kwargs")
SCHEDULE_KEYS = ("start", "step", "min", "max")

LossSpec = str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def normalize_loss_spec(spec: LossSpec) -> list[dict[str, Any]]:
    """The terms of a loss spec, each ``{"name", "weight": float | "schedule": {...}, "input",
    "kwargs"}``.

    ``weight`` is the term's scalar weight (default 1.0), or ``schedule`` its per-epoch weight
    (``WeightSchedule``'s ``{start, step, min, max}``); never both. ``input`` is the model output
    the term reads as logits (default ``"logits"``). ``kwargs`` are the loss's own options, given
    flat in the term or under ``kwargs`` (which wins); per-class weights are the loss's option
    ``class_weight``, never ``weight``. A normalised list is a spec that normalises to itself.
    """
    if isinstance(spec, str):
        return [_term({"name": spec}, "loss")]
    if isinstance(spec, Mapping):
        if "terms" not in spec:
            if "name" not in spec:
                raise ValueError(f"a loss spec needs 'name' or 'terms' (config key loss.name), got keys {sorted(spec)}")
            return [_term(spec, "loss")]
        if set(spec) != {"terms"}:
            raise ValueError(f"a compound loss spec has only 'terms' (config key loss.terms), got keys {sorted(spec)}")
        return _terms(spec["terms"], "loss.terms")
    if isinstance(spec, Sequence):
        return _terms(spec, "loss.terms")  # the list form is the terms list
    raise TypeError(
        f"a loss spec is a name, a mapping or a list of terms (config group loss), got {type(spec).__name__}"
    )


def is_single_loss(spec: LossSpec) -> bool:
    """Whether ``spec`` names one loss (a name, or a mapping with ``name``) rather than a terms list."""
    return isinstance(spec, str) or (isinstance(spec, Mapping) and "terms" not in spec)


def loss_label(spec: LossSpec) -> str:
    """A short name for a loss spec, for tracker tags and report columns: the loss name, or the term
    names joined by ``+`` (``ce+dice``)."""
    return "+".join(term["name"] for term in normalize_loss_spec(spec))


def _terms(terms: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(terms, (str, Mapping)) or not isinstance(terms, Sequence):
        raise ValueError(f"loss terms are a list of mappings with a 'name' (config key {key}), got {terms!r}")
    if not terms:
        raise ValueError(f"a compound loss needs at least one term (config key {key}), got none")
    return [_term(term, f"{key}[{position}]") for position, term in enumerate(terms)]


def _term(term: Any, key: str) -> dict[str, Any]:
    """One term in normal form; ``key`` is its config key (``loss``, ``loss.terms[1]``...)."""
    if not isinstance(term, Mapping) or not isinstance(term.get("name"), str):
        raise ValueError(f"a loss term is a mapping with a 'name' (config key {key}.name), got {term!r}")
    name = term["name"]
    extra = term.get("kwargs") or {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"loss '{name}': kwargs maps the loss's options (config key {key}.kwargs), got {extra!r}")
    if "weight" in extra:
        raise _old_class_weight(name, f"{key}.kwargs.weight", extra["weight"])
    options = {k: v for k, v in term.items() if k not in TERM_KEYS}
    options.update(extra)
    source = term.get("input", "logits")
    if not isinstance(source, str):
        raise ValueError(f"loss '{name}': input is the name of a model output (config key {key}.input), got {source!r}")
    out: dict[str, Any] = {"name": name}
    schedule = term.get("schedule")
    if "weight" in term and not _is_number(term["weight"]):
        raise _old_class_weight(name, f"{key}.weight", term["weight"])
    if schedule is None:
        out["weight"] = float(term.get("weight", 1.0))
    elif "weight" in term:
        raise ValueError(f"loss '{name}' gives both 'weight' and 'schedule'; give one (config key {key})")
    elif not isinstance(schedule, Mapping) or "start" not in schedule or set(schedule) - set(SCHEDULE_KEYS):
        raise ValueError(
            f"loss '{name}': schedule takes start, step, min, max (config key {key}.schedule), got {schedule}"
        )
    else:
        out["schedule"] = dict(schedule)
    return {**out, "input": source, "kwargs": options}


def _old_class_weight(name: str, key: str, value: Any) -> ValueError:
    """The error for per-class weights given as ``weight`` (the spelling before ``class_weight``)."""
    return ValueError(
        f"loss '{name}': {key}={value!r}, but 'weight' is only a term's scalar weight (a number); per-class "
        f"weights are the loss's own option class_weight (e.g. {{name: {name}, class_weight: {value!r}}})"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
