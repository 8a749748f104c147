"""Check a command's config before torch or Lightning is imported (seconds, not a minute).

:func:`precheck` composes the config the way the Hydra app will (same search path, ``--config-dir``,
overrides; for a multirun, once per swept value) and stops with one line when

- a config group has no such option or a key does not exist (with a did-you-mean:
  ``loss=lovaz`` -> ``loss=lovasz``, ``trainer.max_epoch`` -> ``trainer.max_epochs``);
- a user-facing value has the wrong type, range or choice (:data:`SCHEMA`, :func:`check_values`).

Nothing here imports torch; ``seglightning.train`` calls :func:`check_values` again for library use.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

# choices duplicated here so that no torch-importing module is needed (tests/cli/test_config_check.py
# checks them against modules/inference.py MODES and data/reader.py LEVELS)
INFERENCE_MODES = ("whole", "slide")
VALIDATE_LEVELS = ("full", "masks", "header", "index", "none")


class ConfigError(ValueError):
    """A config value, key or group option that cannot work; the message names the key and the fix."""


@dataclass(frozen=True)
class Rule:
    """What a config key accepts: a kind (int, number, fraction_or_count, bool, choice), a range, null."""

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low excluded (lr > 0)
    choices: tuple[Any, ...] = ()
    nullable: bool = False
    hint: str = ""

    def describe(self) -> str:
        if self.kind == "choice":
            text = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind == "fraction_or_count":
            text = "a fraction in [0, 1] (float) or a number of batches >= 0 (int)"
        else:
            text = "an integer" if self.kind == "int" else "a number"
            if self.low is not None and self.high is not None:
                text += f" in [{self.low:g}, {self.high:g}]"
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {self.low:g}"
        if self.nullable:
            text += " (or null)"
        return text + (f"; {self.hint}" if self.hint else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if self.kind == "fraction_or_count":
            return value >= 0 and (isinstance(value, int) or value <= 1)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or value <= self.high


def _int(low: float | None = None, nullable: bool = False, hint: str = "") -> Rule:
    return Rule("int", low=low, nullable=nullable, hint=hint)


def _choice(*choices: Any, nullable: bool = False) -> Rule:
    return Rule("choice", choices=choices, nullable=nullable)


_LIMIT = Rule("fraction_or_count", nullable=True)
_BOOL = Rule("bool")

# The user-facing keys of every command's config (a key absent from a config is not checked).
SCHEMA: dict[str, Rule] = {
    "seed": _int(0),
    "torch_threads": _int(1, nullable=True),
    "trainer.max_epochs": _int(-1, nullable=True, hint="-1: no limit"),
    "trainer.max_steps": _int(-1, hint="-1: no limit"),
    "trainer.num_nodes": _int(1),
    "trainer.log_every_n_steps": _int(1),
    "trainer.check_val_every_n_epoch": _int(1, nullable=True),
    "trainer.num_sanity_val_steps": _int(-1),
    "trainer.accumulate_grad_batches": _int(1),
    "trainer.gradient_clip_val": Rule("number", low=0, nullable=True),
    "trainer.limit_train_batches": _LIMIT,
    "trainer.limit_val_batches": _LIMIT,
    "trainer.limit_test_batches": _LIMIT,
    "trainer.limit_predict_batches": _LIMIT,
    "trainer.accelerator": _choice("auto", "cpu", "gpu", "cuda", "mps", "tpu", "hpu"),
    "trainer.precision": _choice(
        "32-true",
        "32",
        32,
        "16-mixed",
        "16",
        16,
        "bf16-mixed",
        "bf16",
        "bf16-true",
        "16-true",
        "64-true",
        "64",
        64,
        "transformer-engine",
    ),
    "data.batch_size": _int(1),
    "data.val_batch_size": _int(1, nullable=True),
    "data.num_workers": _int(0),
    "data.validate": _choice(*VALIDATE_LEVELS),
    "data.pin_memory": _BOOL,
    "data.drop_last": _BOOL,
    "data.instances": _BOOL,
    "optim.lr": Rule("number", low=0, low_open=True),
    "optim.weight_decay": Rule("number", low=0),
    "optim.momentum": Rule("number", low=0, high=1),
    "optim.nesterov": _BOOL,
    "module.inference.mode": _choice(*INFERENCE_MODES),
    "module.inference.flip": _BOOL,
    "module.nonfinite": _choice("raise", "skip"),
    "module.max_nonfinite_skips": _int(1),
    "module.channels_last": _BOOL,
    "callbacks.progress_bar": _choice("rich", "tqdm", "none"),
    "callbacks.lr_monitor": _BOOL,
    "callbacks.overlays.num_images": _int(0),
    "callbacks.overlays.every_n_epochs": _int(0),
    "test_after_fit": _BOOL,
    # seglightning-eval / -predict
    "split": _choice("val", "test"),
    "inference.mode": _choice(*INFERENCE_MODES, nullable=True),
    "batch_size": _int(1),
    # seglightning-data check
    "check.level": _choice("index", "header", "full"),
    "check.workers": _int(0),
    # seglightning-tune
    "study.n_trials": _int(0, hint="0: only tidy the study (trials left RUNNING)"),
    "study.direction": _choice("maximize", "minimize"),
}


def check_values(cfg: DictConfig, schema: Mapping[str, Rule] = SCHEMA) -> None:
    """Raise :class:`ConfigError` naming the first key of ``schema`` whose value ``cfg`` gets wrong."""
    for key, rule in schema.items():
        try:
            value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False)
        except OmegaConfBaseException:  # an interpolation only the running app resolves (${hydra:...})
            continue
        if value is _ABSENT or value == "???":
            continue
        if not rule.accepts(value):
            raise ConfigError(f"{key}={_show(value)}: must be {rule.describe()}")


_ABSENT = object()


def _show(value: Any) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)  # 'abc': a string


# -- composition ---------------------------------------------------------------------------------
def _did_you_mean(word: str, options: Sequence[str]) -> list[str]:
    return difflib.get_close_matches(word, list(options), n=3, cutoff=0.6)


def explain_composition_error(err: Exception, compose: Callable[[list[str]], DictConfig], overrides: list[str]) -> str:
    """One message for Hydra's composition error ``err``: the unknown group option or key with the
    closest names (``compose`` recomposes without the offending override to list the keys)."""
    from hydra.errors import MissingConfigException

    if isinstance(err, MissingConfigException) and err.missing_cfg_file and err.options is not None:
        group, _, option = err.missing_cfg_file.rpartition("/")
        close = _did_you_mean(option, err.options)
        hint = f"did you mean {' or '.join(f'{group}={c}' for c in close)}? " if close else ""
        return (
            f"{group}={option}: config group '{group}' has no option '{option}'; {hint}"
            f"options: {', '.join(err.options)}"
        )
    cause = err.__cause__
    full_key = getattr(cause, "full_key", None)
    if full_key and "not in struct" in str(cause):
        offending = [o for o in overrides if o.lstrip("+~").split("=", 1)[0].split("@")[0] == full_key]
        parent, _, name = str(full_key).rpartition(".")
        try:  # the keys next to the unknown one, from the config without it
            rest = compose([o for o in overrides if o not in offending])
            node = OmegaConf.select(rest, parent) if parent else rest
        except Exception:  # noqa: BLE001 - the listing is a courtesy; the error stands without it
            node = None
        keys = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
        close = _did_you_mean(name, keys)
        where = f"'{parent}'" if parent else "the config"
        hint = f"; did you mean {' or '.join(f'{parent}.{c}' if parent else c for c in close)}?" if close else ""
        line = offending[0] if offending else full_key
        return f"{line}: {where} has no key '{name}'{hint} (to add a new key: +{line.lstrip('+')})"
    return str(err).split("\nConfig search path:")[0].strip()


@dataclass
class Command:
    """What a Hydra app's command line asks for (Hydra's own argument parser)."""

    overrides: list[str]
    config_name: str
    config_dir: str | None
    multirun: bool
    show_cfg: bool
    skip: bool  # --help, --info, ... or a custom --config-path: left to Hydra


def parse_command(config_name: str, argv: Sequence[str]) -> Command:
    from .compat import hydra_args_parser

    args, _ = hydra_args_parser().parse_known_args(list(argv))
    skip = bool(args.help or args.hydra_help or args.info or args.shell_completion or args.config_path)
    return Command(
        list(args.overrides),
        args.config_name or config_name,
        args.config_dir,
        bool(args.multirun),
        args.cfg is not None,
        skip,
    )


def sweep_jobs(overrides: Sequence[str], params: Mapping[str, Any] | None = None) -> list[list[str]]:
    """Override lists that together use every swept value once: the first values of all, then each
    other value of each key with the rest at their first (not the whole grid). ``params`` are the
    sweeper's config ``hydra.sweeper.params`` (command-line overrides win). Interval and glob sweeps
    are the sweeper's business and are left out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType

    lines = [f"{k}={v}" for k, v in (params or {}).items()] + list(overrides)
    parsed = {}
    for o in OverridesParser.create().parse_overrides(lines):
        parsed[o.get_key_element()] = o  # a later override of the same key wins
    base: list[str] = []
    swept: list[tuple[str, list[str]]] = []
    for key, o in parsed.items():
        if not o.is_sweep_override():
            base.append(o.input_line)
        elif o.value_type in (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP, ValueType.RANGE_SWEEP):
            values = list(o.sweep_string_iterator())
            if values:
                swept.append((key, values))
    first = [f"{k}={v[0]}" for k, v in swept]
    jobs = [base + first]
    for i, (key, values) in enumerate(swept):
        for v in values[1:]:
            jobs.append(base + first[:i] + [f"{key}={v}"] + first[i + 1 :])
    return jobs


def check_command(config_name: str, argv: Sequence[str], config_dir: str) -> None:
    """Compose the config(s) of this command line as the Hydra app will and check them; raise
    :class:`ConfigError` with one message on the first problem."""
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.errors import HydraException
    from hydra.types import RunMode

    from .compat import hydra_config_loader, hydra_config_search_path
    from .sweeps.naming import register_resolvers

    register_resolvers()
    command = parse_command(config_name, argv)
    if command.skip:
        return
    search_path = hydra_config_search_path("seglightning.cli", config_dir)
    if command.config_dir is not None:
        extra = os.path.abspath(command.config_dir)
        if not os.path.isdir(extra):
            raise ConfigError(f"--config-dir {command.config_dir}: folder {extra} not found")
        search_path.prepend("command-line", f"file://{extra}", anchor=SearchPathQuery(provider="schema"))
    loader = hydra_config_loader(search_path)

    def compose(overrides: list[str], mode: RunMode = RunMode.RUN, validate_sweeps: bool = True) -> DictConfig:
        return loader.load_configuration(
            command.config_name, overrides, mode, from_shell=True, validate_sweep_overrides=validate_sweeps
        )

    def composed(overrides: list[str], **kwargs: Any) -> DictConfig:
        try:
            return compose(overrides, **kwargs)
        except (HydraException, OmegaConfBaseException) as err:
            raise ConfigError(explain_composition_error(err, compose, overrides)) from err

    if not command.multirun:  # the common case in one composition, unless a config sets hydra.mode=MULTIRUN
        try:
            single = compose(command.overrides)
        except (HydraException, OmegaConfBaseException) as err:
            if "Ambiguous value" not in str(err):  # a sweep without -m: the multirun check below decides
                raise ConfigError(explain_composition_error(err, compose, command.overrides)) from err
        else:
            if OmegaConf.select(single, "hydra.mode") != RunMode.MULTIRUN:
                if not command.show_cfg:
                    check_values(single)
                return
    master = composed(command.overrides, mode=RunMode.MULTIRUN, validate_sweeps=False)
    multirun = command.multirun or OmegaConf.select(master, "hydra.mode") == RunMode.MULTIRUN
    if not multirun:
        jobs = [command.overrides]
    else:
        params = OmegaConf.select(master, "hydra.sweeper.params")
        jobs = sweep_jobs(command.overrides, OmegaConf.to_container(params) if params is not None else None)
    for job in jobs:
        cfg = composed(job)
        if not command.show_cfg:
            check_values(cfg)


def precheck(prog: str, config_name: str, config_dir: str, argv: Sequence[str] | None = None) -> None:
    """Exit with ``<prog>: <one line>`` (status 1) when the command line's config cannot work."""
    import sys

    try:
        check_command(config_name, sys.argv[1:] if argv is None else argv, config_dir)
    except ConfigError as err:
        sys.exit(f"{prog}: {err}")
