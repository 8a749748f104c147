"""Checkpoints and run directories are trusted no further than they deserve (issue 19): a crafted
checkpoint runs no code, a copied run dir uses its own files, a corrupt last.ckpt falls back, killed
writes are cleaned up, a full disk is one error, tokens never reach a run's files."""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from seglightning import train as train_mod
from seglightning.checkpointing import AtomicCheckpointIO
from seglightning.checkpointing.recovery import remove_stale_temporaries
from seglightning.checkpointing.safe_load import CorruptCheckpoint, UnsafeCheckpoint
from seglightning.evaluate import evaluate
from seglightning.predict import predict
from seglightning.run import directory as run_dir_mod
from seglightning.run.callbacks import ConfigInCheckpoint
from seglightning.tracking.run_meta import run_meta
from seglightning.utils.atomic_file import DiskFull
from tests.conftest import FAST, compose_config, train_config

SMALL = ("data.dataset.length=8", "data.batch_size=4")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run (2 epochs of 2 steps, test pass)."""
    run_dir = tmp_path_factory.mktemp("reference")
    train_mod.train(train_config(run_dir, *SMALL))
    return run_dir


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(reference: Path, path: Path, marker: Path) -> Path:
    """A real checkpoint with one object whose unpickling runs ``touch marker``."""
    ckpt = torch.load(reference / "checkpoints/best.ckpt", map_location="cpu", weights_only=True)
    ckpt["seglightning_config"]["note"] = _Payload(marker)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path


def test_a_crafted_checkpoint_runs_no_code_through_eval_predict_or_resume(reference, tmp_path):
    marker = tmp_path / "marker"
    evil = _crafted(reference, tmp_path / "downloaded" / "paper.ckpt", marker)
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(reference / "overlays" / next(iter(os.listdir(reference / "overlays"))), images / "a.png")
    attempts = {
        "eval": lambda: evaluate(
            compose_config("eval", [f"ckpt={evil}", f"output={tmp_path / 'eval'}", "trainer.accelerator=cpu"])
        ),
        "predict": lambda: predict(
            compose_config("predict", [f"ckpt={evil}", f"input={images}", f"output={tmp_path / 'pred'}"])
        ),
        "resume=<path>": lambda: train_mod.train(train_config(tmp_path / "run", *SMALL, f"resume={evil}")),
        "lightning's loader": lambda: AtomicCheckpointIO().load_checkpoint(evil),
    }
    for name, attempt in attempts.items():
        with pytest.raises(UnsafeCheckpoint) as refused:
            attempt()
        message = str(refused.value)
        assert str(evil) in message and "refused" in message and "posix.system" in message, name
        assert "\n" not in message, name
        assert not marker.exists(), f"{name} ran the checkpoint's code"
    # a rerun into a run directory whose last.ckpt is crafted: refused, not skipped
    run = tmp_path / "rerun"
    _crafted(reference, run / "checkpoints" / "last.ckpt", marker)
    with pytest.raises(UnsafeCheckpoint, match="last.ckpt: refused"):
        train_mod.train(train_config(run, *SMALL))
    assert not marker.exists()


def test_a_real_checkpoint_loads_as_data_only(reference, tmp_path, capsys):
    """Every key of a seglightning checkpoint loads with weights_only=True; eval prints its split
    and inference mode."""
    ckpt = torch.load(reference / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert {"seglightning_config", "rng_state", "state_dict", "hyper_parameters"} <= set(ckpt)
    metrics = evaluate(
        compose_config(
            "eval",
            [f"ckpt={reference / 'checkpoints/best.ckpt'}", f"output={tmp_path}", "trainer.accelerator=cpu",
             "split=test"],
        )
    )
    assert metrics["test/mIoU"] == json.loads((reference / "metrics.json").read_text())["test"]["test/mIoU"]
    out = capsys.readouterr().out
    assert "evaluated split=test of data=synthetic with inference mode=whole scales=[1.0] flip=False" in out


def test_eval_of_a_checkpoint_without_stored_config_follows_its_own_hint(reference, tmp_path):
    ckpt = torch.load(reference / "checkpoints/best.ckpt", map_location="cpu", weights_only=True)
    del ckpt["seglightning_config"]
    bare = tmp_path / "bare.ckpt"
    torch.save(ckpt, bare)
    common = [f"ckpt={bare}", f"output={tmp_path / 'out'}", "trainer.accelerator=cpu"]
    with pytest.raises(ValueError, match="pass data=<name> explicitly"):
        evaluate(compose_config("eval", common))
    metrics = evaluate(compose_config("eval", [*common, "data=synthetic", *SMALL[:1]]))
    best = json.loads((reference / "metrics.json").read_text())["best"]
    assert metrics["val/mIoU"] == pytest.approx(best["val/mIoU"], abs=1e-7)
    # predict has no data= to pass: it says what it needs instead
    (tmp_path / "images").mkdir()
    shutil.copy(reference / "confusion_matrix.png", tmp_path / "images" / "a.png")
    with pytest.raises(ValueError, match="no stored config\\): predict needs the run's data transforms"):
        predict(compose_config("predict", [f"ckpt={bare}", f"input={tmp_path / 'images'}", f"output={tmp_path / 'p'}"]))


def test_resume_from_another_architecture_is_one_line(reference, tmp_path):
    last = reference / "checkpoints/last.ckpt"
    with pytest.raises(ValueError) as error:
        train_mod.train(train_config(tmp_path, *SMALL, f"resume={last}", "model.base_channels=8"))
    message = str(error.value)
    assert "\n" not in message and len(message) < 600, message
    assert message.startswith(f"resume={last}: the checkpoint was trained with model=unet (5 classes), data=synthetic")
    assert "model.base_channels=4" in message and "resume=never" in message
    other = ["model=deeplabv3", "model.encoder=resnet18", "model.aspp_channels=8"]
    with pytest.raises(ValueError) as error:
        fast = [o for o in FAST if not o.startswith("model.")]
        train_mod.train(train_config(tmp_path / "other", *fast, *SMALL, f"resume={last}", *other, fast=False))
    message = str(error.value)
    assert "\n" not in message and len(message) < 600, message
    assert "trained with model=unet (5 classes), data=synthetic but this run asks for model=deeplabv3" in message


class _CrashAtTest(L.Callback):
    def on_test_start(self, trainer, pl_module):
        raise RuntimeError("crash before the test pass")


class _CrashAtEpoch1(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("crash at epoch 1")


def _zeroed(path: Path) -> None:
    """Replace the checkpoint at ``path`` by the same one with all weights zero."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    ckpt["state_dict"] = {k: torch.zeros_like(v) for k, v in ckpt["state_dict"].items()}
    path.unlink()
    torch.save(ckpt, path)


def test_a_copied_run_dir_tests_its_own_best_checkpoint(reference, tmp_path, with_callback):
    """Fit finished, the test pass crashed; the run dir is copied, the original's best.ckpt replaced
    by another model: the copy's rerun scores its own best.ckpt (the uninterrupted run's test)."""
    original, copy = tmp_path / "original", tmp_path / "copy"
    with with_callback(_CrashAtTest()), pytest.raises(RuntimeError, match="crash before the test pass"):
        train_mod.train(train_config(original, *SMALL))
    shutil.copytree(original, copy)
    _zeroed(original / "checkpoints/best.ckpt")
    stored = torch.load(copy / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    (state,) = [v for k, v in stored["callbacks"].items() if k.startswith("ModelCheckpoint")]
    assert state["best_model_path"] == "best.ckpt" and str(original) not in repr(state)
    result = train_mod.train(train_config(copy, *SMALL))
    assert result["test"] == json.loads((reference / "metrics.json").read_text())["test"]


def test_a_truncated_last_checkpoint_falls_back_to_the_newest_readable_one(reference, tmp_path, with_callback, caplog):
    """last.ckpt cut short (and stale temporaries beside it): the rerun names the file, keeps it as
    last.ckpt.corrupt-1, resumes from best.ckpt (the same epoch-0 state) and ends as the
    uninterrupted run; metrics.json says so."""
    with with_callback(_CrashAtEpoch1()), pytest.raises(RuntimeError, match="crash at epoch 1"):
        train_mod.train(train_config(tmp_path, *SMALL))
    last = tmp_path / "checkpoints/last.ckpt"
    data = last.read_bytes()
    last.unlink()  # a new file (last.ckpt is a hard link to best.ckpt here)
    last.write_bytes(data[: len(data) // 2])
    dead = _dead_pid()
    stale = [tmp_path / "checkpoints" / f".last.ckpt.{dead}.tmp", tmp_path / f".metrics.json.{dead}.tmp"]
    for path in stale:
        path.write_bytes(b"partial")
    with caplog.at_level("WARNING"):
        result = train_mod.train(train_config(tmp_path, *SMALL))
    expected = json.loads((reference / "metrics.json").read_text())
    assert result["test"] == expected["test"] and result["best"] == expected["best"]
    record = json.loads((tmp_path / "metrics.json").read_text())["resume_fallback"]
    assert record["unreadable"] == "checkpoints/last.ckpt" and "truncated or corrupt" in record["error"]
    assert record["renamed_to"] == "checkpoints/last.ckpt.corrupt-1"
    assert record["resumed_from"] == "checkpoints/best.ckpt"
    assert (tmp_path / "checkpoints/last.ckpt.corrupt-1").read_bytes() == data[: len(data) // 2]
    assert f"{last}: unreadable checkpoint" in caplog.text and "resuming from checkpoints/best.ckpt" in caplog.text
    assert not any(path.exists() for path in stale)
    assert str(stale[0]) in caplog.text
    # an explicit resume=<path> that is unreadable is an error naming the file
    corrupt = tmp_path / "checkpoints/last.ckpt.corrupt-1"
    with pytest.raises(CorruptCheckpoint, match=f"^resume={corrupt}: unreadable checkpoint, truncated or corrupt"):
        train_mod.train(train_config(tmp_path / "other", *SMALL, f"resume={corrupt}"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_are_removed_unless_their_writer_lives(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    dead = _dead_pid()
    stale = [tmp_path / "checkpoints" / f".last.ckpt.{dead}.tmp", tmp_path / f".config.yaml.{dead}.tmp"]
    own = tmp_path / f".metrics.json.{os.getpid()}.tmp"  # this process has not started writing
    live = tmp_path / "checkpoints" / f".best.ckpt.{os.getppid()}.tmp"  # a write still going on
    keep = [live, tmp_path / "checkpoints" / "last.ckpt", tmp_path / "notes.tmp"]
    for path in [*stale, own, *keep]:
        path.write_bytes(b"x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([*stale, own])
    assert all(path.exists() for path in keep)


def _disk_fills_on(target_names: set[str], monkeypatch) -> None:
    """``open(..., "w"/"wb")`` of a temporary file for one of ``target_names`` gives a file whose
    writes fail as on a full disk (ENOSPC) after 2 bytes."""
    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        name = Path(str(file)).name
        if "w" in str(mode) and any(name.startswith(f".{t}.") for t in target_names):
            return Full(f)
        return f

    monkeypatch.setattr(builtins, "open", fake_open)


def test_a_full_disk_while_checkpointing_is_one_error_naming_the_file(tmp_path, monkeypatch):
    _disk_fills_on({"best.ckpt", "last.ckpt"}, monkeypatch)
    with pytest.raises(DiskFull) as error:
        train_mod.train_job(train_config(tmp_path, *SMALL))
    assert str(error.value) == f"no space left on device while writing {tmp_path / 'checkpoints/best.ckpt'}"
    assert error.value.errno == errno.ENOSPC
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))
    assert "config.yaml" in os.listdir(tmp_path) and "seed:" in (tmp_path / "config.yaml").read_text()
    recorded = json.loads((tmp_path / "metrics.json").read_text())
    assert recorded["status"] == "failed" and recorded["error"].startswith("DiskFull: no space left on device")


def test_run_files_are_written_atomically_and_a_full_disk_names_the_file(tmp_path, monkeypatch):
    cfg = train_config(tmp_path, *SMALL)
    run_dir_mod.write_run_files(cfg, tmp_path, run_meta(cfg.seed))
    before = {name: (tmp_path / name).read_bytes() for name in ("config.yaml", "overrides.yaml", "run_meta.json")}
    for name in before:
        with monkeypatch.context() as patch:
            _disk_fills_on({name}, patch)
            with pytest.raises(DiskFull, match=f"^no space left on device while writing {tmp_path / name}$"):
                run_dir_mod.write_run_files(cfg, tmp_path, run_meta(cfg.seed))
        assert (tmp_path / name).read_bytes() == before[name], f"{name} was damaged"
        assert not list(tmp_path.glob(".*.tmp"))


TOKEN = "wandb-fake-0123456789abcdef0123456789abcdef"


def test_a_token_reaches_no_file_of_the_run(tmp_path, monkeypatch):
    """A token read by the config (and one the shell expanded on the command line) is redacted
    from every file of the run directory: config.yaml, overrides.yaml, run_meta.json, the
    checkpoints, hparams.yaml."""
    monkeypatch.setenv("WANDB_API_KEY", TOKEN)
    monkeypatch.setenv("MY_SERVICE_SECRET", "s3cr3t-value-42")
    monkeypatch.setattr(sys, "argv", ["seglightning-train", f"+shell={TOKEN}"])
    monkeypatch.setattr(run_dir_mod, "hydra_overrides", lambda: ["+note=${oc.env:WANDB_API_KEY}", f"+shell={TOKEN}"])
    cfg = train_config(
        tmp_path, *SMALL, "+note=${oc.env:WANDB_API_KEY}", "+other=${oc.env:MY_SERVICE_SECRET}",
        "trainer.max_epochs=1",
    )
    train_mod.train(cfg)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"config.yaml", "overrides.yaml", "run_meta.json", "last.ckpt", "best.ckpt", "hparams.yaml"} <= {
        p.name for p in files
    }
    for path in files:
        data = path.read_bytes()
        assert TOKEN.encode() not in data and b"s3cr3t-value-42" not in data, path
    assert "note: <redacted:WANDB_API_KEY>" in (tmp_path / "config.yaml").read_text()
    assert "+shell=<redacted:WANDB_API_KEY>" in (tmp_path / "overrides.yaml").read_text()
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["seglightning_config"]["other"] == "<redacted:MY_SERVICE_SECRET>"


def test_tokens_are_redacted_from_the_checkpoints_hyperparameters(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    monkeypatch.setenv("SHORT_KEY", "1")  # too short to be a secret: left alone
    checkpoint = {"hyper_parameters": {"model": {"name": "unet", "token": "hf_abcdefghijklmnop", "depth": 1}}}
    ConfigInCheckpoint({"model": {"token": "hf_abcdefghijklmnop"}}).on_save_checkpoint(None, None, checkpoint)
    assert checkpoint["hyper_parameters"]["model"] == {"name": "unet", "token": "<redacted:HF_TOKEN>", "depth": 1}
    assert checkpoint["seglightning_config"] == {"model": {"token": "<redacted:HF_TOKEN>"}}


def test_the_per_class_and_per_image_tables_are_replaced_atomically(tmp_path, monkeypatch):
    """A full disk while rewriting per_class.csv or per_image.csv leaves the previous table whole."""
    from seglightning.metrics import EvaluationMetrics
    from seglightning.tracking.media import class_report, per_image_table

    metrics = EvaluationMetrics(2, 255, ["bg", "fg"], [2])
    target = torch.zeros(2, 16, 16, dtype=torch.long)
    target[:, 4:12, 4:12] = 1
    metrics.update(target.clone(), target, torch.tensor(0.0), [{"id": "a"}, {"id": "b"}])
    snapshot = metrics.snapshot()
    class_report(snapshot, tmp_path)
    per_image_table(snapshot, tmp_path, "val")
    before = {name: (tmp_path / name).read_bytes() for name in ("per_class.csv", "per_image.csv")}
    write = {"per_class.csv": lambda: class_report(snapshot, tmp_path),
             "per_image.csv": lambda: per_image_table(snapshot, tmp_path, "test")}
    for name, rewrite in write.items():
        with monkeypatch.context() as patch:
            _disk_fills_on({name}, patch)
            with pytest.raises(DiskFull, match=f"^no space left on device while writing {tmp_path / name}$"):
                rewrite()
        assert (tmp_path / name).read_bytes() == before[name]
    assert not list(tmp_path.glob(".*.tmp"))
