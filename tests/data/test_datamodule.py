import numpy as np
import pytest
import torch

from seglightning.data import build_datamodule
from seglightning.data.datamodule import SegmentationSamples, pad_collate
from seglightning.data.samplers import ShardSampler
from seglightning.data.synthetic import SyntheticShapes
from seglightning.data.transforms import build_transforms

TRAIN = {"preset": "train_default", "crop_size": [48, 48], "scale": [0.5, 2.0]}


def _dm(**kw):
    return build_datamodule("synthetic", batch_size=4, dataset={"length": 12}, transforms={"train": TRAIN}, **kw)


def _first_batch(dm, epoch=0):
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)
    return next(iter(loader))


def test_batch_contract_and_extras():
    dm = _dm(extras=["dist_map", "edge"])
    dm.setup("fit")
    b = _first_batch(dm)
    assert b["image"].dtype == torch.float32 and b["image"].shape == (4, 3, 48, 48)
    assert b["mask"].dtype == torch.int64 and b["mask"].shape == (4, 48, 48)
    assert b["dist_map"].shape == (4, 5, 48, 48) and b["edge"].shape == (4, 48, 48)
    assert len(b["meta"]) == 4 and "id" in b["meta"][0]


def test_augmentation_depends_on_epoch_not_on_worker_count():
    dm0, dm2 = _dm(num_workers=0), _dm(num_workers=2)
    e0, e0_workers, e1 = _first_batch(dm0, 0), _first_batch(dm2, 0), _first_batch(dm0, 1)
    assert torch.equal(e0["image"], e0_workers["image"]) and torch.equal(e0["mask"], e0_workers["mask"])
    assert not torch.equal(e0["image"], e1["image"])
    assert torch.equal(_first_batch(dm0, 0)["image"], e0["image"])


@pytest.mark.parametrize("scale,min_exact", [((1.0, 1.0), 1.0), ((0.5, 2.0), 0.8)])
def test_image_and_mask_stay_aligned_under_train_transforms(scale, min_exact):
    # a mask that is a function of the image colour must survive scale/flip/crop identically
    class Pattern(SyntheticShapes):
        def __getitem__(self, i):
            rng = np.random.default_rng(i)
            mask = rng.integers(0, 5, (8, 12)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
            image = np.stack([mask * 50] * 3, -1).astype(np.uint8)
            return {"image": image, "mask": mask, "meta": {"id": str(i)}}

    # without rescaling every pixel matches; when upscaled, bilinear image pixels blend at block borders
    spec = {**TRAIN, "scale": scale, "jitter": 0.0, "mean": [0, 0, 0], "std": [1, 1, 1]}
    ds = SegmentationSamples(Pattern(length=4), build_transforms(spec), 5, 255)
    for i in range(4):
        s = ds[i]
        valid = s["mask"] != 255
        pixel = (s["image"][0] * 255).round().long()
        assert valid.any()
        # the label nearest to the pixel value is the mask label (a flip or crop applied to one
        # side only would match ~1/5 of the pixels)
        agree = ((pixel[valid] - s["mask"][valid] * 50).abs() <= 25).float().mean().item()
        assert agree >= min_exact
        assert torch.all(pixel[~valid] == 0)  # padding: image 0, mask ignore


def test_label_outside_range_names_the_file():
    class Bad(SyntheticShapes):
        def __getitem__(self, i):
            item = super().__getitem__(i)
            item["mask"][0, 0] = 7
            item["meta"]["mask_path"] = f"/data/masks/{i}.png"
            return item

    ds = SegmentationSamples(Bad(length=2), build_transforms(None), 5, 255)
    with pytest.raises(ValueError, match=r"/data/masks/0\.png.*\[7\].*\[0, 5\)"):
        ds[0]


def test_pad_collate_pads_mask_with_ignore():
    a = {"image": torch.ones(3, 4, 5), "mask": torch.zeros(4, 5, dtype=torch.long), "meta": {}}
    b = {"image": torch.ones(3, 6, 3), "mask": torch.zeros(6, 3, dtype=torch.long), "meta": {}}
    batch = pad_collate([a, b], ignore_index=255)
    assert batch["image"].shape == (2, 3, 6, 5) and batch["mask"].shape == (2, 6, 5)
    assert batch["mask"][0, 4:].eq(255).all() and batch["mask"][1, :, 3:].eq(255).all()
    assert batch["image"][0, :, 4:].eq(0).all()


@pytest.mark.parametrize("n,world", [(10, 3), (9, 3), (5, 4)])
def test_eval_shards_cover_every_sample_exactly_once(n, world):
    ds = list(range(n))
    shards = [list(ShardSampler(ds, shuffle=False, rank=r, world_size=world)) for r in range(world)]
    assert sorted(i for s in shards for i in s) == ds
    assert [len(ShardSampler(ds, False, rank=r, world_size=world)) for r in range(world)] == [len(s) for s in shards]


def test_train_shards_are_equal_length_and_reshuffled_per_epoch():
    ds = list(range(10))
    s = [ShardSampler(ds, shuffle=True, seed=1, rank=r, world_size=3, pad=True) for r in range(3)]
    assert {len(list(x)) for x in s} == {4}
    first = list(s[0])
    s[0].set_epoch(1)
    assert list(s[0]) != first


def test_class_frequency_matches_definition_and_is_cached(tmp_path):
    dm = build_datamodule("synthetic", dataset={"length": 6}, cache_dir=str(tmp_path))
    freq = dm.class_frequency()
    ds = SyntheticShapes(length=6)
    pix, img = np.zeros(5), np.zeros(5)
    for i in range(6):
        m = ds[i]["mask"]
        m = m[m != 255]
        for c in range(5):
            if (m == c).any():
                pix[c] += (m == c).sum()
                img[c] += m.size
    np.testing.assert_allclose(freq, pix / img)
    assert len(list(tmp_path.glob("class_frequency_*.json"))) == 1
    np.testing.assert_array_equal(dm.class_frequency(), freq)


def test_class_frequency_names_the_mask_with_a_label_out_of_range(tmp_path, monkeypatch):
    dm = build_datamodule("synthetic", dataset={"length": 2}, cache_dir=str(tmp_path))
    load = SyntheticShapes.__getitem__

    def with_a_bad_label(self, index):
        item = load(self, index)
        if index == 1:
            item["mask"] = item["mask"].copy()
            item["mask"][0, 0] = 9
        return item

    monkeypatch.setattr(SyntheticShapes, "__getitem__", with_a_bad_label)
    with pytest.raises(ValueError, match=r"train_00001: mask has label value\(s\) \[9\] outside \[0, 5\)"):
        dm.class_frequency()


def test_unknown_dataset_and_extra_are_clear_errors():
    with pytest.raises(KeyError, match=r"unknown dataset 'vocc'.*data\.name"):
        build_datamodule("vocc")
    with pytest.raises(KeyError, match=r"data\.extras"):
        _dm(extras=["depth"])
