"""Secrets never reach a run's files: any value equal to a token environment variable is replaced.

A config can read a token (``+note=${oc.env:WANDB_API_KEY}``, ``model.token=${oc.env:HF_TOKEN}``)
and the command line can hold one; ``config.yaml``, ``overrides.yaml``, ``run_meta.json``,
``metrics.json``, the checkpoints' ``seglightning_config`` and ``hyper_parameters`` and the
trackers' hyperparameters are written with every occurrence of such a value replaced by
``<redacted:NAME>``. A token variable is one named in :data:`TOKEN_VARIABLES` or ending in one of
:data:`TOKEN_SUFFIXES`; values shorter than :data:`MIN_LENGTH` characters are left alone (a
``..._KEY=1`` would otherwise redact every "1"). The run itself still gets the real value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

TOKEN_VARIABLES = (
    "WANDB_API_KEY",
    "NEPTUNE_API_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "COMET_API_KEY",
)
TOKEN_SUFFIXES = ("_TOKEN", "_API_KEY", "_KEY", "_SECRET", "_PASSWORD")
MIN_LENGTH = 8


def token_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{value: variable name}`` of the token variables set in ``environ`` (default: this process's)."""
    environ = os.environ if environ is None else environ
    found = {}
    for name, value in environ.items():
        if (name in TOKEN_VARIABLES or name.upper().endswith(TOKEN_SUFFIXES)) and len(value) >= MIN_LENGTH:
            found.setdefault(value, name)
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))  # longest first


def redact(value: Any, tokens: Mapping[str, str] | None = None) -> Any:
    """``value`` (str, or dicts / lists / tuples of them, any depth) with every token replaced."""
    tokens = token_values() if tokens is None else tokens
    if not tokens:
        return value
    if isinstance(value, str):
        for token, name in tokens.items():
            value = value.replace(token, f"<redacted:{name}>")
        return value
    if isinstance(value, Mapping):
        return {redact(k, tokens): redact(v, tokens) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v, tokens) for v in value)
    return value


def redact_hyperparameters(loggers: list[Any]) -> None:
    """Each logger's ``log_hyperparams`` receives redacted hyperparameters (``hparams.yaml``,
    the trackers' run config)."""
    for logger in loggers:
        logger.log_hyperparams = _redacting(logger.log_hyperparams)


def _redacting(log: Callable[..., Any]) -> Callable[..., Any]:
    def log_hyperparams(params: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(params, Mapping):
            params = redact(dict(params))
        return log(params, *args, **kwargs)

    return log_hyperparams
