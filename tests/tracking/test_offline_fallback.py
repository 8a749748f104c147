"""A tracker never costs a run: W&B, MLflow and Neptune pointed at a port of this machine where
nothing listens (a real-length W&B key, an MLflow server URL, a Neptune token naming that server)
fall back to their offline store within ``connect_timeout``, with one warning naming how to upload
later, and the run completes."""

from __future__ import annotations

import base64
import json
import socket
import time
import warnings

import pytest

from seglightning import train as train_mod
from seglightning.tracking import mlflow_logger, neptune_logger, wandb_logger
from seglightning.tracking.reachable import check_timeout, unreachable
from tests.conftest import train_config

pytestmark = pytest.mark.tracker
CONTEXT = {"config": {"seed": 0}, "tags": {"loss": "ce"}, "group": None, "name": "run", "resume_step": None}


@pytest.fixture
def dead_url() -> str:
    """http://127.0.0.1:<a port where nothing listens>."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def offline_env(monkeypatch, dead_url):
    """Credentials that ask every tracker to go online, to ``dead_url``."""
    monkeypatch.setenv("WANDB_API_KEY", "sltestwandbkey0123456789abcdef0123456789")  # 40 characters
    monkeypatch.setenv("WANDB_BASE_URL", dead_url)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    token = {"api_address": dead_url, "api_url": dead_url, "api_key": "sltest-neptune-key"}
    monkeypatch.setenv("NEPTUNE_API_TOKEN", base64.b64encode(json.dumps(token).encode()).decode())
    monkeypatch.setenv("NEPTUNE_PROJECT", "team/segmentation")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return dead_url


def test_probe_tells_a_listening_port_from_a_dead_one(dead_url):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert unreachable(f"http://127.0.0.1:{server.getsockname()[1]}", 2) is None
    started = time.monotonic()
    assert "ConnectionRefusedError" in unreachable(dead_url, 2)
    assert time.monotonic() - started < 3


def test_bad_connect_timeout_names_the_key():
    with pytest.raises(ValueError, match=r"logger.wandb.connect_timeout=0: use seconds > 0"):
        check_timeout("wandb", 0)
    with pytest.raises(ValueError, match=r"logger.mlflow.connect_timeout='soon'"):
        check_timeout("mlflow", "soon")


def built(build, *args, **kwargs):
    """``build(...)``, its warnings, and how long it took."""
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger = build(*args, **kwargs)
    return logger, [str(w.message) for w in caught], time.monotonic() - started


def test_wandb_goes_offline_in_seconds_naming_wandb_sync(tmp_path, offline_env):
    logger, messages, seconds = built(wandb_logger.build, tmp_path, CONTEXT, connect_timeout=1)
    assert logger._wandb_init["mode"] == "offline" and seconds < 5
    (message,) = [m for m in messages if "W&B server" in m]
    assert offline_env in message and f"`wandb sync {tmp_path / 'wandb'}/offline-run-*`" in message


def test_mlflow_goes_to_the_local_store_naming_the_upload(tmp_path, offline_env):
    run_dir = tmp_path / "run"
    logger, messages, seconds = built(
        mlflow_logger.build, run_dir, CONTEXT, tracking_uri=f"{offline_env}/", connect_timeout=1
    )
    # the server is never contacted (MLflow's client would retry it for minutes); the time here is
    # the local store's creation, the probe's own bound is tested above
    assert logger._tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    (message,) = [m for m in messages if "MLflow server" in m]
    assert "mlflow-export-import" in message and "import-experiment" in message
    logger.finalize("success")


def test_neptune_goes_offline_naming_neptune_sync(tmp_path, offline_env):
    logger, messages, seconds = built(neptune_logger.build, tmp_path, CONTEXT, connect_timeout=1)
    assert logger.mode == "offline" and logger.project == "team/segmentation" and seconds < 5
    (message,) = [m for m in messages if "Neptune server" in m]
    assert f"`neptune sync {tmp_path / 'neptune'}/<run>/run_operations.sqlite3`" in message


@pytest.mark.slow
def test_run_with_every_tracker_unreachable_completes(tmp_path, offline_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    cfg = train_config(
        run_dir, "logger=[csv,wandb,mlflow,neptune]", f"logger.mlflow.tracking_uri={offline_env}",
        "logger.wandb.connect_timeout=1", "logger.mlflow.connect_timeout=1", "logger.neptune.connect_timeout=1",
        "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
    )
    with pytest.warns(UserWarning) as caught:
        train_mod.train(cfg)
    servers = sorted(m.split(" server")[0] for m in map(str, (w.message for w in caught)) if " server http" in m)
    assert servers == ["MLflow", "Neptune", "W&B"]
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "complete"
    assert list((run_dir / "wandb").glob("offline-run-*"))
    assert list((run_dir / "neptune").glob("*/run_operations.sqlite3"))
    assert (tmp_path / "mlflow.db").is_file()
