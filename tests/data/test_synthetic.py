import numpy as np
import pytest

from seglightning.data import build_dataset
from seglightning.data.synthetic import CLASS_NAMES, generate_sample


def test_deterministic_from_seed_split_and_index():
    a, b = generate_sample(3, 7, "train"), generate_sample(3, 7, "train")
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, generate_sample(4, 7, "train").image)
    assert not np.array_equal(a.image, generate_sample(3, 7, "val").image)


def test_masks_have_several_classes_void_on_borders_and_consistent_instances():
    ds = build_dataset("synthetic", split="train", instances=True)
    seen = set()
    for i in range(16):
        item = ds[i]
        mask, inst = item["mask"], item["instance_masks"]
        assert item["image"].dtype == np.uint8 and item["image"].shape == (64, 64, 3)
        seen |= set(np.unique(mask).tolist())
        # every valid foreground pixel belongs to exactly one instance of the same class
        for m, label in zip(inst, item["instance_labels"]):
            assert m.any()
            valid = (m == 1) & (mask != 255)
            assert np.all(mask[valid] == label)
        fg = (mask != 0) & (mask != 255)
        assert np.all(inst.sum(0)[fg] == 1)
        # void pixels lie on instance borders (inside an instance, next to another id)
        void = mask == 255
        assert np.all(inst.sum(0)[void] <= 1)
    assert seen == set(range(len(CLASS_NAMES))) | {255}


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="data.splits"):
        build_dataset("synthetic", split="training")
