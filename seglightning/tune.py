"""``seglightning-tune``: Optuna hyperparameter search over the train config (``conf/tune.yaml``).

Optuna (>= 4) is used directly, with an RDB study (SQLite by default) in the study dir
``outputs/tune/<study.name>``. Each trial composes the ``tune`` config with the command line's
overrides plus the sampled values (``search_space``: config keys or groups -> distributions), runs
:func:`seglightning.train.train` in ``<study dir>/trial_<number>`` with Optuna's Lightning pruning
callback on ``study.metric``, and returns that metric at the best epoch. A rerun of the same
command continues the study until ``study.n_trials`` trials have finished (complete or pruned).
At the end ``trials.csv`` and ``best.json`` are written to the study dir.

A study is one search: its identity (:func:`study_identity`) is the search space, the objective
(``study.metric``, ``study.direction``) and the fixed config (every other key that can change
results, as :mod:`seglightning.sweeps.rerun` decides). The default ``study.name`` is
``study-<hash of it>``, so another model or loss starts another study. The identity is stored in
the study; a study reused (same name) with another config is an error listing the differences,
unless ``study.continue=true``.

A running trial sends a heartbeat to the storage every ``study.heartbeat`` seconds (Optuna's
``RDBStorage`` heartbeat). A trial whose process was killed stops sending them; the next launch
(and every new trial) marks a RUNNING trial without a heartbeat for ``2 × study.heartbeat``
seconds FAIL, says so, and records it as failed in its run dir's ``metrics.json``, so it no longer
shows as RUNNING forever and the study runs a replacement trial.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .run.directory import RunStatus, read_metrics, write_csv, write_json, write_metrics
from .utils.registry import call_checked, lookup

SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "cmaes": "CmaEsSampler", "qmc": "QMCSampler"}
PRUNERS = {"median": "MedianPruner", "percentile": "PercentilePruner", "hyperband": "HyperbandPruner",
           "successive_halving": "SuccessiveHalvingPruner", "none": "NopPruner"}
DIRECTIONS = {"maximize": "max", "minimize": "min"}
OWN_KEYS = ("run_dir", "callbacks.checkpoint.mode")  # set per trial; command-line values are replaced


STUDY_KEYS = ("study.metric", "study.direction")  # the parts of the study node that define the search


def study_identity(cfg: DictConfig) -> dict[str, Any]:
    """What makes a study one search: ``{flat key: value}`` of the search space (``search_space.*``),
    the objective and the fixed config (neither searched nor ignorable, see :func:`study_name`)."""
    from .sweeps.rerun import flatten, ignored

    space = flatten_space(OmegaConf.to_container(cfg.search_space, resolve=True))
    plain = OmegaConf.to_container(cfg, resolve=False)  # a copy, interpolations kept
    for key in ("hydra", "run_dir", "search_space"):  # Hydra's own; the job's dir; taken apart below
        plain.pop(key, None)
    plain.get("study", {}).pop("name", None)  # this very value
    resolved = flatten(OmegaConf.to_container(OmegaConf.create(plain), resolve=True))
    fixed = {k: v for k, v in resolved.items() if not k.startswith("study.")}
    searched = tuple(space)
    identity = {
        k: v for k, v in fixed.items()
        if not ignored(k) and k not in OWN_KEYS and not any(k == s or k.startswith(s + ".") for s in searched)
    }
    identity.update({k: OmegaConf.select(cfg, k) for k in STUDY_KEYS})
    identity.update({f"search_space.{k}": v for k, v in flatten({key: dict(spec) for key, spec in space.items()},
                                                                 "").items()})
    return identity


def study_name(*, _root_: DictConfig) -> str:
    """The default ``study.name``: ``study-<8 hex digits of the study's identity>``."""
    text = json.dumps(study_identity(_root_), sort_keys=True, default=str)
    return f"study-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def check_study_config(study: Any, cfg: DictConfig) -> None:
    """Store the study's identity in a new study; a study made with another config is an error
    listing the differences, unless ``study.continue=true``."""
    from .sweeps.rerun import config_differences

    identity = json.loads(json.dumps(study_identity(cfg), default=str))  # as the storage returns it
    stored = study.user_attrs.get("config")
    if stored is None:
        study.set_user_attr("config", identity)
        return
    changed = config_differences(stored, identity)
    if not changed:
        return
    listed = "; ".join(f"{k}: {old} -> {new}" for k, (old, new) in changed.items())
    if not cfg.study.get("continue"):
        raise ValueError(
            f"study {study.study_name} was made with another config ({listed}); give another study.name "
            "(or none: the default name follows the config), or continue this study anyway with study.continue=true"
        )
    print(f"[seglightning] continuing study {study.study_name} with another config (study.continue=true): {listed}")


def _build(module: Any, names: dict[str, str], spec: dict[str, Any], what: str) -> Any:
    """An Optuna sampler or pruner from ``{name: ..., **options}`` (``study.<what>``)."""
    options = dict(spec)
    name = options.pop("name", None)
    cls = getattr(module, lookup(names, str(name), what, f"study.{what}.name"))
    return call_checked(cls, options, f"{what} '{name}'", f"study.{what}")


def suggest(trial: Any, key: str, spec: dict[str, Any]) -> Any:
    """Sample ``key`` from ``spec`` (``{type: float|int|categorical, ...}``, ``search_space.<key>``)."""
    options = {k: v for k, v in spec.items() if k != "type"}
    methods = {"float": trial.suggest_float, "int": trial.suggest_int, "categorical": trial.suggest_categorical}
    method = lookup(methods, str(spec.get("type")), "distribution type", f"search_space.{key}.type")
    return call_checked(method, {"name": key, **options}, f"search_space.{key}", f"search_space.{key}")


def flatten_space(space: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """``{optim: {lr: {type: ...}}}`` -> ``{"optim.lr": {type: ...}}`` (a dict with ``type`` is a distribution)."""
    flat = {}
    for key, value in space.items():
        path = f"{prefix}{key}"
        if not isinstance(value, dict):
            raise ValueError(
                f"search_space.{path} must be a distribution ({{type: float|int|categorical, ...}}), got {value!r}"
            )
        flat.update({path: value} if "type" in value else flatten_space(value, path + "."))
    return flat


def override_value(value: Any) -> str:
    """A sampled value as Hydra override text."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return repr(value) if isinstance(value, float) else str(value)


def _override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


@contextmanager
def hydra_job(cfg_with_hydra: DictConfig) -> Iterator[DictConfig]:
    """Make a composed config the current Hydra job (as Hydra's launchers do), so the trial's run
    dir records the trial's own overrides; yields the config without its ``hydra`` node."""
    from hydra.core.hydra_config import HydraConfig

    saved = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg_with_hydra)
    job = OmegaConf.masked_copy(cfg_with_hydra, [k for k in cfg_with_hydra if k != "hydra"])
    try:
        yield job
    finally:
        HydraConfig.instance().cfg = saved


class Objective:
    """One trial: compose, train with pruning, return ``study.metric`` at the best epoch."""

    def __init__(self, cfg: DictConfig, study_dir: Path, base_overrides: list[str]):
        self.space = flatten_space(OmegaConf.to_container(cfg.search_space, resolve=True))
        self.metric = str(cfg.study.metric)
        self.mode = DIRECTIONS[str(cfg.study.direction)]
        self.study_dir = study_dir
        self.base = [o for o in base_overrides if _override_key(o) not in OWN_KEYS]
        if cfg.get("sweep_name") is None:
            self.base.append(f"sweep_name={cfg.study.name}")  # the trackers' group of the trials
        clash = sorted(set(self.space) & {_override_key(o) for o in self.base})
        if clash:
            raise ValueError(
                f"{clash[0]} is both set on the command line and searched (search_space.{clash[0]}); drop one"
            )

    def __call__(self, trial: Any) -> float:
        import optuna
        from hydra import compose
        from optuna_integration import PyTorchLightningPruningCallback

        from .run.directory import record_failure
        from .train import train

        sampled = {key: suggest(trial, key, spec) for key, spec in self.space.items()}
        run_dir = self.study_dir / f"trial_{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        overrides = [
            *self.base,
            *(f"{k}={override_value(v)}" for k, v in sampled.items()),
            f"run_dir={run_dir}",
            f"callbacks.checkpoint.mode={self.mode}",
        ]
        try:
            with hydra_job(compose(config_name="tune", overrides=overrides, return_hydra_config=True)) as cfg:
                result = train(cfg, callbacks=[PyTorchLightningPruningCallback(trial, monitor=self.metric)])
        except optuna.TrialPruned as pruned:
            write_metrics(run_dir, {"status": RunStatus.PRUNED, "error": str(pruned)})
            raise
        except Exception as error:
            trial.set_user_attr("error", record_failure(run_dir, error)["error"])
            raise
        value = result.get("best", {}).get(self.metric)
        if value is None:
            raise KeyError(
                f"study.metric={self.metric} was not logged (logged: {', '.join(sorted(result.get('best', {})))})"
            )
        return float(value)


def write_results(study: Any, study_dir: Path) -> dict[str, Any] | None:
    """``trials.csv`` (every trial) and ``best.json`` (the best complete trial, if any)."""
    trials = study.get_trials(deepcopy=False)
    params = sorted({k for t in trials for k in t.params})
    rows = [
        [
            t.number,
            t.state.name,
            "" if t.value is None else t.value,
            *(t.params.get(p, "") for p in params),
            t.user_attrs.get("run_dir", ""),
            t.user_attrs.get("error", ""),
        ]
        for t in trials
    ]
    write_csv(study_dir / "trials.csv", ["number", "state", "value", *params, "run_dir", "error"], rows)
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return None
    summary = {
        "number": best.number,
        "value": best.value,
        "params": best.params,
        "overrides": [f"{k}={override_value(v)}" for k, v in best.params.items()],
        "run_dir": best.user_attrs.get("run_dir"),
    }
    write_json(study_dir / "best.json", summary)
    return summary


KILLED = (
    "KilledTrial: the process running this trial stopped without finishing it (no heartbeat); "
    "marked FAIL by seglightning-tune"
)


def report_killed_trial(study: Any, trial: Any) -> None:
    """The storage's stale-trial callback: say that ``trial`` was failed and record it in its run dir."""
    run_dir = trial.user_attrs.get("run_dir")
    print(
        f"[seglightning] trial {trial.number} of study {study.study_name} was left RUNNING by a process that "
        f"stopped (no heartbeat); marked FAIL" + (f", run dir {run_dir}" if run_dir else "")
    )
    if run_dir and (read_metrics(Path(run_dir)) or {}).get("status") == RunStatus.RUNNING:
        write_metrics(Path(run_dir), {"status": RunStatus.FAILED, "error": KILLED})


def storage(cfg: DictConfig, study_dir: Path) -> Any:
    """The study's RDB storage with heartbeats every ``study.heartbeat`` seconds (grace: twice that)."""
    import optuna

    heartbeat = int(cfg.study.heartbeat)
    if heartbeat < 1:
        raise ValueError(
            f"study.heartbeat={cfg.study.heartbeat}: give the seconds between a running trial's heartbeats (>= 1)"
        )
    with heartbeat_api():
        return optuna.storages.RDBStorage(
            cfg.study.storage or f"sqlite:///{study_dir / 'study.db'}",
            heartbeat_interval=heartbeat,
            grace_period=2 * heartbeat,
            heartbeat_stale_trial_callback=report_killed_trial,
        )


@contextmanager
def heartbeat_api() -> Iterator[None]:
    """Optuna's heartbeat API without its ExperimentalWarning (experimental since Optuna 2.9; the study
    is built on it, so the notice is nothing for the user to act on; Optuna's own optimize loop hides it too)."""
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        yield


def tune(cfg: DictConfig) -> dict[str, Any] | None:
    """Create or continue the study and run trials until ``study.n_trials`` have finished."""
    import optuna
    from hydra.core.hydra_config import HydraConfig
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    if not cfg.get("search_space"):
        raise ValueError(
            "search_space is empty: give at least one key, "
            "e.g. search_space.optim.lr={type: float, low: 1e-4, high: 1e-2, log: true}"
        )
    if cfg.study.direction not in DIRECTIONS:
        raise ValueError(f"study.direction={cfg.study.direction}: use maximize or minimize")
    study_dir = Path(cfg.run_dir).resolve()
    study_dir.mkdir(parents=True, exist_ok=True)
    overrides = HydraConfig.get().overrides
    objective = Objective(cfg, study_dir, [*overrides.hydra, *overrides.task])
    study = optuna.create_study(
        study_name=str(cfg.study.name),
        storage=storage(cfg, study_dir),
        direction=str(cfg.study.direction),
        load_if_exists=True,
        sampler=_build(optuna.samplers, SAMPLERS, OmegaConf.to_container(cfg.study.sampler, resolve=True), "sampler"),
        pruner=_build(optuna.pruners, PRUNERS, OmegaConf.to_container(cfg.study.pruner, resolve=True), "pruner"),
    )
    check_study_config(study, cfg)
    with heartbeat_api():
        optuna.storages.fail_stale_trials(study)  # trials of killed processes (Optuna also checks before each trial)
    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    remaining = int(cfg.study.n_trials) - len(study.get_trials(deepcopy=False, states=finished))
    first = len(study.trials)
    if remaining > 0:
        # n_trials caps this invocation even if every trial fails; MaxTrialsCallback stops it when
        # parallel workers on the same storage have already finished enough trials.
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=cfg.study.timeout,
            catch=(Exception,),
            callbacks=[MaxTrialsCallback(int(cfg.study.n_trials), states=finished)],
        )
    best = write_results(study, study_dir)
    ran = study.trials[first:]
    if ran and all(t.state == TrialState.FAIL for t in ran):
        raise RuntimeError(
            f"all {len(ran)} trials of study {cfg.study.name} failed, the first with "
            f"{ran[0].user_attrs.get('error')} (trials.csv in {study_dir})"
        )
    print(f"[seglightning] study {cfg.study.name}: {len(study.trials)} trials in {study_dir}")
    if best:
        print(
            f"[seglightning] best trial {best['number']}: {cfg.study.metric}={best['value']:.4f}  "
            f"{' '.join(best['overrides'])}"
        )
    return best
