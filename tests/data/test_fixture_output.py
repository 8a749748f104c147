"""The fixture writers' output, byte for byte: one small case per format, each a digest of the
sorted (path, sha256) of every file written, recorded from the writers before they shared one
split/sample loop (``seglightning.data.fixtures``).

A digest changes when a writer's output changes, and also when uv.lock moves Pillow, OpenCV or
pycocotools to encoders that write other bytes: check the files, then record the new digest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from seglightning.data.fixtures import write_fixture

SIZE = (48, 80)  # the smallest the COCO rectangle image allows
# the writer's options per format (with seed 1, SIZE), and the digest of what it wrote
CASES = {
    "voc": {"counts": {"train": 2, "val": 1}, "aug": 1},
    "voc_aug": {"counts": {"train": 1, "val": 1}},
    "cityscapes": {"counts": {"train": 2, "val": 1}},  # both 16-bit PNG writers, coarse labels
    "camvid": {"counts": {"train": 1, "test": 1}},
    "camvid32": {"counts": {"train": 1, "val": 1}, "paint_labels": True},  # painted with its colour table
    "coco": {"counts": {"train": 2, "val": 1}},
    "folder": {"counts": {"train": 2, "val": 1}, "paint_labels": True},  # index and colour masks
}
DIGESTS = {
    "voc": "3f573d59e716f41d3bcc671fed2a2f52f5cbeed2f810eb83bed0e7f3d8cf51e6",
    "voc_aug": "a11811a7c92d23f320ee8dad142145b9db90460b065a17beb93373cc8fb7e2bf",
    "cityscapes": "b0b098951d65337a08c900365cabb3571cc981795f05a256d98bb45294f2dada",
    "camvid": "197f987cea9e0421a0c8cf25909114d548cf5b95bdaeee0a2ad54aa17f00d0cb",
    "camvid32": "ba12e0160635a87480a57892a4e650a89564c1a2a366ff86f90a350710572b14",
    "coco": "f209c3a9c2c682a0d7e0c8c1eec3b2211146544fa2f54d701635f1f687b6b1f1",
    "folder": "7a4cba823ebe43bb64698fc76d5dcdb83d29079068118835faa7b92d91a4d16d",
}


def listing(root: Path) -> str:
    return "".join(
        f"{p.relative_to(root).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in sorted(root.rglob("*"))
        if p.is_file()
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_bytes_are_unchanged(tmp_path, name):
    files = listing(write_fixture(name, tmp_path / name, seed=1, size=SIZE, **CASES[name]))
    digest = hashlib.sha256(files.encode()).hexdigest()
    assert digest == DIGESTS[name], f"the {name} fixture {CASES[name]} wrote other files (digest {digest}):\n{files}"
