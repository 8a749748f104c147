"""``build_loss``: a loss from its config (a name, a dict of options, or a list of weighted terms).

Spec forms (``conf/loss/*.yaml``)::

    "ce"                                          # a name
    {name: dice, per_image: true}                 # a name and its options
    {terms: [{name: ce, weight: 1.0}, {name: dice, weight: 1.0}]}
    [{name: dice, schedule: {start: 1.0, step: -0.01, min: 0.1}},
     {name: boundary, schedule: {start: 0.01, step: 0.01}},
     {name: ce, input: aux_logits, weight: 0.4}]  # list form (= the terms list)

A term takes ``name``, either ``weight`` (default 1.0) or ``schedule`` (see ``WeightSchedule``),
``input`` (which model output is its logits; default ``"logits"``) and the loss's own options,
flat or under ``kwargs``. A term's ``weight`` is its weight when it is a number; a list or a
string (``ce``/``wce`` class weights, e.g. ``{name: wce, weight: median_frequency}``) is the loss's
own ``weight`` option, so a single-loss spec keeps its meaning when the loop turns it into a term.
Its log key is the name, ``<name>.<input>`` for a non-default input, with ``.2``, ``.3``... for
repeats. ``defaults`` (``ignore_index``, ``num_classes``, ``class_frequency``...) go to each loss
whose constructor has a parameter of that name, and never override an explicit option.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..registry import lookup
from .base import SegLoss
from .compound import CompoundLoss, Term, WeightSchedule
from .registry import LOSSES

TERM_KEYS = ("name", "weight", "schedule", "input", "kwargs")


def build_loss(spec: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], **defaults: Any) -> SegLoss:
    """Build the loss described by ``spec`` (config group ``loss``); see the module docstring."""
    if isinstance(spec, str):
        return _build_one(spec, {}, defaults)
    if isinstance(spec, Mapping):
        if "terms" in spec:
            if set(spec) != {"terms"}:
                raise ValueError(f"a compound loss spec has only 'terms' (config key loss.terms), got keys {sorted(spec)}")
            return _build_compound(spec["terms"], defaults)
        options = dict(spec)
        if "name" not in options:
            raise ValueError(f"a loss spec needs 'name' or 'terms' (config key loss.name), got keys {sorted(options)}")
        return _build_one(options.pop("name"), options, defaults)
    if isinstance(spec, Sequence):
        return _build_compound(spec, defaults)
    raise TypeError(f"a loss spec is a name, a mapping or a list of terms (config group loss), got {type(spec).__name__}")


def _build_one(name: str, options: dict[str, Any], defaults: Mapping[str, Any]) -> SegLoss:
    cls = lookup(LOSSES, name, "loss", "loss.name")
    parameters = inspect.signature(cls).parameters
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise TypeError(
            f"loss '{name}' has no option {', '.join(repr(k) for k in unknown)} (config key loss.{unknown[0]}); "
            f"its options: {', '.join(parameters)}"
        )
    kwargs = {key: value for key, value in defaults.items() if key in parameters}
    kwargs.update(options)
    return cls(**kwargs)


def _build_compound(terms: Sequence[Mapping[str, Any]], defaults: Mapping[str, Any]) -> CompoundLoss:
    built: list[Term] = []
    seen: Counter[str] = Counter()
    for position, term in enumerate(terms):
        if not isinstance(term, Mapping) or "name" not in term:
            raise ValueError(f"loss term {position} must be a mapping with a 'name' (config key loss.terms[{position}].name), got {term!r}")
        options = {key: value for key, value in term.items() if key not in TERM_KEYS}
        if "weight" in term and not _is_number(term["weight"]):
            options["weight"] = term["weight"]  # class weights: the loss's option, not the term's
        options.update(term.get("kwargs") or {})
        source = term.get("input", "logits")
        key = term["name"] if source == "logits" else f"{term['name']}.{source}"
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}.{seen[key]}"
        built.append(Term(key, _build_one(term["name"], options, defaults), _schedule(term, position), source))
    return CompoundLoss(built)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _schedule(term: Mapping[str, Any], position: int) -> WeightSchedule:
    schedule = term.get("schedule")
    weight = term.get("weight", 1.0)
    if schedule is None:
        return WeightSchedule(start=float(weight) if _is_number(weight) else 1.0)
    if _is_number(term.get("weight")):
        raise ValueError(f"loss term {position} ('{term['name']}') gives both 'weight' and 'schedule'; give one (config key loss.terms[{position}])")
    try:
        return WeightSchedule(**schedule)
    except TypeError:
        raise ValueError(
            f"loss term {position} ('{term['name']}'): schedule must be {{start, step, min, max}} "
            f"(config key loss.terms[{position}].schedule), got {schedule!r}"
        ) from None
