"""Read tracker artefacts back from disk with the trackers' own formats (no network, no servers)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_BLOCK, _HEADER = 32768, 7  # W&B's transaction log: LevelDB-style 32 KiB blocks, 7-byte record headers


def wandb_records(path: Path) -> Iterator[Any]:
    """Every ``wandb_internal_pb2.Record`` of a ``run-<id>.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:_HEADER])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0), f"{path} is not a W&B transaction log"
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        if kind == 0:  # zero padding up to the end of the block
            pos += left
            continue
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        pending = chunk if kind in (1, 2) else pending + chunk  # FULL/FIRST start, MIDDLE/LAST extend
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def wandb_run(run_dir: Path) -> dict[str, Any]:
    """``{"run": RunRecord, "config": {...}, "history": [row, ...]}`` of one offline W&B run dir."""
    (log,) = run_dir.glob("run-*.wandb")
    out: dict[str, Any] = {"run": None, "config": {}, "history": []}
    for record in wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["run"] = record.run
            out["config"].update({u.key: json.loads(u.value_json) for u in record.run.config.update})
        elif kind == "config":
            out["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "history":
            out["history"].append(
                {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item}
            )
    return out


def neptune_run(db: Path) -> dict[str, Any]:
    """Metadata, create-run operation, metric series, configs, tags and files of an offline Neptune run."""
    from neptune_scale.sync.operations_repository import OperationsRepository, OperationType

    repo = OperationsRepository(db_path=db.resolve())
    try:
        ops = repo.get_operations(up_to_bytes=1 << 30)
        out: dict[str, Any] = {
            "metadata": repo.get_metadata(),
            "create": None,
            "metrics": {},
            "configs": {},
            "tags": set(),
            "group_tags": set(),
            "files": {},
            "uploads": repo.get_file_upload_requests(10_000),
        }
    finally:
        repo.close(cleanup_files=False)
    for op in ops:
        if op.operation_type == OperationType.CREATE_RUN:
            out["create"] = op.operation
            continue
        update = op.operation
        step = update.step.whole if update.HasField("step") else None
        for key, value in update.append.items():
            if value.HasField("file_ref"):
                out["files"].setdefault(key, []).append((step, value.file_ref.path))
            else:
                out["metrics"].setdefault(key, []).append((step, value.float64))
        for key, value in update.assign.items():
            kind = value.WhichOneof("value")
            out["configs"][key] = value.file_ref.path if kind == "file_ref" else getattr(value, kind)
        for key, change in update.modify_sets.items():
            target = out["group_tags"] if key == "sys/group_tags" else out["tags"] if key == "sys/tags" else None
            if target is not None:
                target.update(change.string.values)
    return out
