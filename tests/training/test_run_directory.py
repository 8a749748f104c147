"""seglightning/run/directory.py owns the run directory: every file name and status value is spelled
there once, the module imports neither torch nor Lightning, and its writers are strict and atomic."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import pytest
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from seglightning.run import directory as rd
from seglightning.utils import strict_json
from tests.sweeps.test_report_imports import loaded_after

PACKAGE = Path(rd.__file__).parents[1]
# string constants that equal a run-directory name but mean something else
NOT_THE_RUN_DIRECTORY = {
    ("models/pretrained.py", "checkpoints"),  # torch hub's cache folder
    ("run/prepare.py", "predictions"),  # the callbacks.predictions config group
}


def layout_names() -> set[str]:
    paths = [v for k, v in vars(rd).items() if k.isupper() and isinstance(v, (str, Path))]
    return {Path(p).as_posix() for p in paths} | {Path(p).name for p in paths}


def loose_strings(tree: ast.AST) -> list[ast.Constant]:
    """String constants that are not docstrings, dict keys or subscripts (``state["skipped"]``)."""
    ignored: set[int] = set()
    for node in ast.walk(tree):
        body = node.body if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) else []
        if body and isinstance(body[0], ast.Expr):
            ignored.add(id(body[0].value))
        if isinstance(node, ast.Dict):
            ignored |= {id(k) for k in node.keys if k is not None}
        if isinstance(node, ast.Subscript):
            ignored.add(id(node.slice))
    strings = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return [n for n in strings if id(n) not in ignored]


def test_run_paths_and_statuses_are_spelled_only_in_the_directory_module():
    spelled = layout_names() | {s.value for s in rd.RunStatus}
    assert {"metrics.json", "checkpoints/last.ckpt", "best.ckpt", "per_class.csv", "complete", "skipped"} <= spelled
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name == "run/directory.py":
            continue
        found += [
            f"{name}:{node.lineno}: {node.value!r}"
            for node in loose_strings(ast.parse(path.read_text()))
            if node.value in spelled and (name, node.value) not in NOT_THE_RUN_DIRECTORY
        ]
    assert not found, "use the names of seglightning/run/directory.py:\n" + "\n".join(found)


def test_the_directory_module_loads_no_torch_or_lightning():
    assert loaded_after("import seglightning.run.directory") == []


def test_metrics_csv_is_the_name_lightnings_csv_logger_writes():
    assert ExperimentWriter.NAME_METRICS_FILE == rd.METRICS_CSV


def test_a_status_is_written_and_read_as_its_plain_value(tmp_path):
    assert strict_json.dumps({"status": rd.RunStatus.SKIPPED}) == '{\n  "status": "skipped"\n}'
    (tmp_path / rd.METRICS_FILE).write_text('{"status": "complete"}')  # a file of an earlier version
    status = rd.read_metrics(tmp_path)["status"]
    assert status == rd.RunStatus.COMPLETE and rd.RunStatus(status) is rd.RunStatus.COMPLETE
    assert rd.finished(tmp_path) == {"status": "complete"}


def test_write_csv_replaces_the_table_whole(tmp_path):
    path = tmp_path / rd.PER_CLASS_FILE
    path.write_text("old,table\n")
    assert rd.write_csv(path, ["class", "IoU"], [["cat", 0.1 + 0.2], ["dog", float("nan")]]) == path
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["class", "IoU"], ["cat", repr(0.1 + 0.2)], ["dog", "nan"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [rd.PER_CLASS_FILE]  # no temporary file left


def test_run_meta_json_holds_the_given_meta_and_the_overrides(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.setattr(rd, "hydra_overrides", lambda: ["loss=dice"])
    rd.write_run_files(OmegaConf.create({"seed": 3}), tmp_path, {"seed": 3, "resumed_from": None})
    assert json.loads((tmp_path / rd.RUN_META_FILE).read_text()) == {
        "overrides": ["loss=dice"], "resumed_from": None, "seed": 3
    }
    assert rd.read_metrics(tmp_path) == {"status": rd.RunStatus.RUNNING}
    assert (tmp_path / rd.OVERRIDES_FILE).read_text() == "- loss=dice\n"


class KilledMidSave:
    """A figure or image whose save writes half a file, then dies (as a kill mid-write)."""

    def save(self, target, **kwargs):
        Path(target).write_bytes(b"half a picture")
        raise RuntimeError("killed mid-save")

    savefig = save


def test_write_figure_saves_in_the_suffix_format_and_a_failed_save_keeps_the_old_file(tmp_path):
    from matplotlib.figure import Figure

    path = tmp_path / rd.RELIABILITY_FILE
    assert rd.write_figure(path, Figure(figsize=(1, 1))) == path
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    with pytest.raises(RuntimeError, match="killed mid-save"):
        rd.write_figure(path, KilledMidSave())
    assert path.read_bytes() == png
    assert sorted(p.name for p in tmp_path.iterdir()) == [rd.RELIABILITY_FILE]


def test_write_image_saves_in_the_suffix_format_and_a_failed_save_keeps_the_old_file(tmp_path):
    from PIL import Image

    path = tmp_path / "overlay.png"
    assert rd.write_image(path, Image.new("RGB", (4, 3), (200, 10, 10))) == path
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and Image.open(path).getpixel((0, 0)) == (200, 10, 10)
    jpg = rd.write_image(tmp_path / "image.jpg", Image.new("RGB", (4, 3)), quality=90)
    assert jpg.read_bytes().startswith(b"\xff\xd8")

    with pytest.raises(RuntimeError, match="killed mid-save"):
        rd.write_image(path, KilledMidSave())
    assert path.read_bytes() == png
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.jpg", "overlay.png"]
