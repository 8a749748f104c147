"""Mask R-CNN: torchvision parity of the default losses, the swappable losses, rasterisation, and a
short overfit on two separable instances whose mask AP equals pycocotools' COCOeval."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.models.detection import maskrcnn_resnet50_fpn

from seglightning.models import build_model
from seglightning.models import maskrcnn as maskrcnn_module
from seglightning.models.maskrcnn import iou_balanced_cross_entropy, paired_iou
from seglightning.modules import InstanceSegmentationModule, rasterize

H = W = 64
# small RoI budgets: the image is 64x64 and holds two objects
SMALL = {
    "min_size": 64,
    "max_size": 64,
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 100,
    "rpn_post_nms_top_n_test": 50,
    "box_batch_size_per_image": 32,
}


def two_instances() -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """(normalised image [3,H,W], target, semantic mask [H,W]): a red box (class 1), a blue disk (2)."""
    masks = torch.zeros(2, H, W, dtype=torch.uint8)
    masks[0, 8:28, 8:30] = 1
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    masks[1] = ((yy - 44) ** 2 + (xx - 42) ** 2 <= 11**2).to(torch.uint8)
    image = torch.full((3, H, W), -1.0)
    image[0][masks[0].bool()] = 1.5
    image[2][masks[1].bool()] = 1.5
    boxes = []
    for m in masks:
        ys, xs = torch.nonzero(m, as_tuple=True)
        boxes.append([xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1])
    target = {
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "labels": torch.tensor([1, 2]),
        "masks": masks,
        "iscrowd": torch.zeros(2, dtype=torch.uint8),
    }
    semantic = (masks * torch.tensor([1, 2])[:, None, None]).sum(0)
    return image, target, semantic


def test_default_losses_equal_torchvision():
    image, target, _ = two_instances()
    torch.manual_seed(0)
    ours = build_model("maskrcnn", num_classes=3, **SMALL)
    torch.manual_seed(0)
    reference = maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=3, image_mean=[0.0] * 3, image_std=[1.0] * 3, **SMALL
    )
    for (name, a), b in zip(ours.net.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name
    ours.train()
    reference.train()
    torch.manual_seed(1)
    got = ours([image], [target])
    torch.manual_seed(1)
    expected = reference([image], [target])
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], msg=key)


def test_iou_balanced_classification_loss():
    logits = torch.randn(4, 3, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 1])
    ious = torch.tensor([0.1, 0.9, 0.6, 0.5])
    torch.testing.assert_close(
        iou_balanced_cross_entropy(logits, labels, ious, eta=0.0), F.cross_entropy(logits, labels)
    )
    ce = F.cross_entropy(logits, labels, reduction="none").detach()
    positive = labels > 0
    scaled = ious[positive] ** 1.5
    weight = torch.ones(4)
    weight[positive] = scaled * ce[positive].sum() / (scaled * ce[positive]).sum()
    value = iou_balanced_cross_entropy(logits, labels, ious, eta=1.5)
    torch.testing.assert_close(value, (weight * F.cross_entropy(logits, labels, reduction="none")).mean())
    # the positives' total loss is unchanged by the re-weighting
    torch.testing.assert_close((weight[positive] * ce[positive]).sum(), ce[positive].sum())
    value.backward()
    torch.testing.assert_close(
        paired_iou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 0, 3, 2]])), torch.tensor([1 / 3])
    )


def test_iou_balanced_box_classification_in_the_model(monkeypatch):
    image, target, _ = two_instances()
    seen = {}

    def spy(logits, labels, ious, eta):
        seen.update(labels=labels, ious=ious)
        return iou_balanced_cross_entropy(logits, labels, ious, eta)

    monkeypatch.setattr(maskrcnn_module, "iou_balanced_cross_entropy", spy)
    values = []
    for kind, eta in (("ce", 1.5), ("iou_balanced", 0.0)):
        torch.manual_seed(0)
        model = build_model("maskrcnn", num_classes=3, box_classification=kind, iou_balance_eta=eta, **SMALL).train()
        torch.manual_seed(1)
        values.append(model([image], [target])["loss_classifier"])
    torch.testing.assert_close(values[0], values[1])  # eta = 0: plain cross-entropy
    positive = seen["labels"] > 0
    assert positive.any()
    assert (seen["ious"] >= 0).all() and (seen["ious"] <= 1.0 + 1e-6).all() and not seen["ious"].requires_grad


def test_regressed_iou_decodes_the_ground_truth_class():
    from torchvision.models.detection._utils import BoxCoder

    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))  # torchvision's RoI-head weights
    proposals = [torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10]])]
    gt = torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10]])  # both proposals have IoU 1 with their box
    labels = torch.tensor([1, 2])
    regression = torch.zeros(2, 3 * 4, requires_grad=True)
    with torch.no_grad():
        regression[0, 4] = 5.0  # RoI 0, class 1: dx = 5 / 10 -> shifted by half a width: IoU 1/3
        regression[1, 4] = 5.0  # RoI 1, class 1 (not its class): ignored
        regression[1, 8 + 2] = 5 * np.log(2.0)  # RoI 1, class 2: twice as wide, same centre: IoU 1/2
    ious = maskrcnn_module.regressed_iou(coder, regression, proposals, labels, gt)
    torch.testing.assert_close(ious, torch.tensor([1 / 3, 1 / 2]))
    assert not ious.requires_grad
    torch.testing.assert_close(paired_iou(proposals[0], gt), torch.ones(2))


def test_iou_balanced_weights_follow_the_regressed_box(monkeypatch):
    """Every regressed box is 4x the proposal's width and height (same centre): a positive RoI
    (proposal IoU >= 0.5) has a regressed-box IoU <= 1/8, and that is the IoU the weights use."""
    image, target, _ = two_instances()
    seen = {}

    def spy(logits, labels, ious, eta):
        seen.update(labels=labels, ious=ious)
        return iou_balanced_cross_entropy(logits, labels, ious, eta)

    monkeypatch.setattr(maskrcnn_module, "iou_balanced_cross_entropy", spy)
    torch.manual_seed(0)
    model = build_model("maskrcnn", num_classes=3, box_classification="iou_balanced", **SMALL).train()
    bbox_pred = model.net.roi_heads.box_predictor.bbox_pred
    with torch.no_grad():
        bbox_pred.weight.zero_()
        bbox_pred.bias.copy_(torch.tensor([0.0, 0.0, 5 * np.log(4.0), 5 * np.log(4.0)]).repeat(3))
    torch.manual_seed(1)
    model([image], [target])
    positive = seen["labels"] > 0
    assert positive.any()
    assert (seen["ious"][positive] <= 1 / 8 + 1e-6).all()
    assert (seen["ious"][positive] > 0).all()


def _mask_targets(mask_loss: str) -> torch.Tensor:
    """The mask targets the mask head's loss receives in one training step."""
    image, target, _ = two_instances()
    torch.manual_seed(0)
    model = build_model("maskrcnn", num_classes=3, mask_loss=mask_loss, **SMALL).train()
    seen = []
    forward = model.mask_loss.forward
    model.mask_loss.forward = lambda logits, truth, **extras: (seen.append(truth), forward(logits, truth, **extras))[1]
    torch.manual_seed(1)
    model([image], [target])
    return seen[0]


def test_mask_targets_are_soft_for_bce_and_binarised_for_other_losses():
    soft = _mask_targets("bce")  # torchvision's roi_align projection, unchanged (BCE = torchvision's)
    assert ((soft > 0) & (soft < 1)).any()
    for name in ("dice", "lovasz_hinge"):
        hard = _mask_targets(name)
        assert torch.equal(hard, (soft >= 0.5).to(soft.dtype)), name  # Detectron2's threshold


def test_mask_loss_comes_from_the_loss_factory_in_binary_mode():
    image, target, _ = two_instances()
    model = build_model("maskrcnn", num_classes=3, mask_loss="dice", **SMALL).train()
    assert model.mask_loss.name == "dice" and model.mask_loss.mode == "binary"
    loss = model([image], [target])["loss_mask"]
    assert torch.isfinite(loss) and 0 <= loss.item() <= 1


def test_module_outputs_are_at_input_resolution_for_odd_sizes():
    module = InstanceSegmentationModule(model={"name": "maskrcnn", **SMALL}, loss="bce", num_classes=3).eval()
    with torch.no_grad():
        out = module(torch.randn(1, 3, 257, 385))
    assert set(out) == {"logits", "detections"}
    assert out["logits"].shape == (1, 3, 257, 385)
    assert set(out["detections"][0]) == {"boxes", "labels", "scores", "masks"}
    assert out["detections"][0]["masks"].shape[-2:] == (257, 385)


def test_rasterisation_keeps_confident_detections_and_lets_the_higher_score_win():
    masks = torch.zeros(3, 1, 4, 4)
    masks[0, 0, :, :2] = 0.9  # class 2, score 0.6
    masks[1, 0, :2, :] = 0.8  # class 1, score 0.9: wins the overlap
    masks[2, 0, 3, :] = 0.9  # class 3, score 0.3: below the threshold
    detections = [{"masks": masks, "scores": torch.tensor([0.6, 0.9, 0.3]), "labels": torch.tensor([2, 1, 3])}]
    expected = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 0, 0], [2, 2, 0, 0]])
    assert torch.equal(rasterize(detections, (4, 4))[0], expected)


def _coco_map(detection: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> tuple[float, float]:
    """Mask AP and AP50 of one image's detections, computed directly with pycocotools' COCOeval."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def rle(m: torch.Tensor) -> dict:
        return mask_utils.encode(np.asfortranarray(m.numpy().astype(np.uint8)))

    gt = COCO()
    gt.dataset = {
        "images": [{"id": 1, "height": H, "width": W}],
        "categories": [{"id": 1}, {"id": 2}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": int(label),
                "segmentation": rle(m),
                "area": float(m.sum()),
                "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                "iscrowd": 0,
            }
            for i, (m, label, b) in enumerate(zip(target["masks"], target["labels"], target["boxes"]))
        ],
    }
    gt.createIndex()
    results = [
        {"image_id": 1, "category_id": int(label), "segmentation": rle(m[0] >= 0.5), "score": float(score)}
        for m, label, score in zip(detection["masks"], detection["labels"], detection["scores"])
    ]
    evaluator = COCOeval(gt, gt.loadRes(results), "segm")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return float(evaluator.stats[0]), float(evaluator.stats[1])


@pytest.mark.slow
def test_short_overfit_reaches_mask_ap50_and_matches_cocoeval(one_thread):
    image, target, semantic = two_instances()
    torch.manual_seed(0)
    module = InstanceSegmentationModule(
        model={"name": "maskrcnn", **SMALL}, loss="bce", num_classes=3, class_names=["bg", "box", "disk"]
    )
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-4)
    batch = {"image": image[None], "mask": semantic[None], "targets": [target]}
    module.train()
    for _ in range(70):
        losses = module.model(batch["image"], batch["targets"])
        optimizer.zero_grad()
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 10.0)
        optimizer.step()

    module.eval()
    with torch.no_grad():
        module.validation_step(batch, 0)
        detection = module(batch["image"])["detections"][0]
    scores = module.map_metrics["val"].compute()
    assert scores["segm_map_50"] >= 0.9
    ap, ap50 = _coco_map(detection, target)
    assert scores["segm_map"].item() == pytest.approx(ap, abs=1e-6)
    assert scores["segm_map_50"].item() == pytest.approx(ap50, abs=1e-6)
    semantic_scores = module.metrics["val"].confusion.compute()
    assert semantic_scores["mIoU"] > 0.7
