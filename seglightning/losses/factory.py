"""``build_loss``: a loss from its config (a name, a dict of options, or a list of weighted terms).

Spec forms (``conf/loss/*.yaml``; read by ``spec.normalize_loss_spec``)::

    "ce"                                          # a name
    {name: dice, per_image: true}                 # a name and its options
    {name: wce, class_weight: median_frequency}   # per-class weights: the loss's class_weight
    {name: dice, weight: 2.0}                     # one weighted term
    {terms: [{name: ce, weight: 1.0}, {name: dice, weight: 1.0}]}
    [{name: dice, schedule: {start: 1.0, step: -0.01, min: 0.1}},
     {name: boundary, schedule: {start: 0.01, step: 0.01}},
     {name: ce, input: aux_logits, weight: 0.4}]  # list form (= the terms list)

A term takes ``name``, either ``weight`` (its scalar weight, default 1.0) or ``schedule`` (see
``WeightSchedule``), ``input`` (which model output is its logits; default ``"logits"``) and the
loss's own options, flat or under ``kwargs``. ``weight`` is always the term's weight; a loss's
per-class weights are its own option ``class_weight`` (``ce``, ``wce``), and a non-numeric
``weight`` is an error that says so. A single loss with no term keys builds the loss itself; every
other spec builds a ``CompoundLoss``, whose log keys are the term names, ``<name>.<input>`` for a
non-default input, with ``.2``, ``.3``... for repeats. ``defaults`` (``ignore_index``,
``num_classes``, ``class_frequency``...) go to each loss whose constructor has a parameter of that
name, and never override an explicit option.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..utils.registry import lookup
from .base import SegLoss
from .compound import CompoundLoss, Term, WeightSchedule
from .registry import LOSSES
from .spec import LossSpec, is_single_loss, normalize_loss_spec


def build_loss(spec: LossSpec, **defaults: Any) -> SegLoss:
    """Build the loss described by ``spec`` (config group ``loss``); see the module docstring."""
    from . import load_losses  # every loss registered, however this module was reached

    load_losses()
    terms = normalize_loss_spec(spec)
    only = terms[0]
    if is_single_loss(spec) and only.get("weight") == 1.0 and only["input"] == "logits":
        return _build_one(only["name"], only["kwargs"], defaults)
    return _build_compound(terms, defaults)


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


def _build_compound(terms: list[dict[str, Any]], defaults: Mapping[str, Any]) -> CompoundLoss:
    built: list[Term] = []
    seen: Counter[str] = Counter()
    for term in terms:
        key = term["name"] if term["input"] == "logits" else f"{term['name']}.{term['input']}"
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}.{seen[key]}"
        schedule = WeightSchedule(**term["schedule"]) if "schedule" in term else WeightSchedule(start=term["weight"])
        built.append(Term(key, _build_one(term["name"], term["kwargs"], defaults), schedule, term["input"]))
    return CompoundLoss(built)
