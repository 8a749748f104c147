"""The instance loop's COCO mask/box mAP equals pycocotools' COCOeval to the last digit.

The set is built so that IoUs and recalls land exactly on COCO's thresholds (IoU 0.55, 0.6, 0.75,
0.9 ...; recall 3/5), with several images, several instances per class, score ties and objects in
each size range (small < 32², medium < 96², large), where float32 thresholds would flip the
comparison."""

import numpy as np
import pytest
import torch

from seglightning.modules.instance import _mean_average_precision

SIZE = 160
SUMMARY = {"map": 0, "map_50": 1, "map_75": 2, "map_small": 3, "map_medium": 4, "map_large": 5}


def _box(x0: int, y0: int, w: int, h: int) -> list[int]:
    return [x0, y0, x0 + w, y0 + h]


def _mask(box: list[int]) -> torch.Tensor:
    m = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    m[box[1] : box[3], box[0] : box[2]] = True
    return m


def _cropped(gt: list[int], iou: float) -> list[int]:
    """A box inside ``gt``, same width, whose height makes its IoU with ``gt`` exactly ``iou``."""
    height = round(iou * (gt[3] - gt[1]))
    assert height / (gt[3] - gt[1]) == iou
    return [gt[0], gt[1], gt[2], gt[1] + height]


def threshold_set() -> list[tuple[list[tuple[int, list[int]]], list[tuple[int, list[int], float]]]]:
    """Per image: ground truth ``(label, xyxy box)`` and detections ``(label, box, score)``; every
    object is an axis-aligned rectangle, so mask IoU equals box IoU."""
    images = []
    # image 0: five small class-1 objects (20x20), three found at IoU 0.6/0.75/0.55 -> recall 3/5;
    # one false positive tied in score with a true positive
    gts = [(1, _box(4 + 30 * i, 4, 20, 20)) for i in range(5)]
    dets = [
        (1, _cropped(gts[0][1], 0.6), 0.9),
        (1, _cropped(gts[1][1], 0.75), 0.8),
        (1, _box(4, 60, 20, 20), 0.8),  # false positive, same score as the line above
        (1, _cropped(gts[2][1], 0.55), 0.7),
    ]
    images.append((gts, dets))
    # image 1: medium objects (40x40) of classes 1 and 2 at IoU 0.6, 0.9, 0.65, 0.7; a tie in score
    gts = [(1, _box(0, 0, 40, 40)), (1, _box(50, 0, 40, 40)), (2, _box(0, 50, 40, 40)), (2, _box(50, 50, 40, 40))]
    dets = [
        (1, _cropped(gts[0][1], 0.6), 0.6),
        (1, _cropped(gts[1][1], 0.9), 0.6),
        (2, _cropped(gts[2][1], 0.65), 0.95),
        (2, _cropped(gts[3][1], 0.7), 0.5),
        (2, _box(100, 100, 40, 40), 0.95),  # false positive tied with the best class-2 detection
    ]
    images.append((gts, dets))
    # image 2: one large class-2 object (100x100) at IoU exactly 0.6, a small class-1 one at 0.75
    gts = [(2, _box(0, 0, 100, 100)), (1, _box(120, 120, 20, 20))]
    dets = [(2, _cropped(gts[0][1], 0.6), 0.85), (1, _cropped(gts[1][1], 0.75), 0.85), (1, _box(120, 0, 20, 20), 0.4)]
    images.append((gts, dets))
    # image 3: two medium class-1 objects, one missed, one found at IoU 0.8 with a duplicate at 0.75
    gts = [(1, _box(10, 10, 60, 40)), (1, _box(80, 80, 60, 40))]
    dets = [(1, _cropped(gts[0][1], 0.8), 0.7), (1, _cropped(gts[0][1], 0.75), 0.7)]
    images.append((gts, dets))
    return images


def _cocoeval_stats(images, iou_type: str) -> np.ndarray:
    """COCOeval directly: ground truth as a COCO dataset (area = mask area, as COCO's own
    annotations), detections through ``loadRes`` (area from the mask for segm, w*h for bbox)."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def rle(box):
        return mask_utils.encode(np.asfortranarray(_mask(box).numpy().astype(np.uint8)))

    def xywh(box):
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]

    annotations, results = [], []
    for image_id, (gts, dets) in enumerate(images):
        for label, box in gts:
            area = float((box[2] - box[0]) * (box[3] - box[1]))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": label,
                                "segmentation": rle(box), "area": area, "bbox": xywh(box), "iscrowd": 0})
        for label, box, score in dets:
            shape = {"segmentation": rle(box)} if iou_type == "segm" else {"bbox": xywh(box)}
            results.append({"image_id": image_id, "category_id": label, "score": score, **shape})
    gt = COCO()
    gt.dataset = {"images": [{"id": i, "height": SIZE, "width": SIZE} for i in range(len(images))],
                  "categories": [{"id": 1}, {"id": 2}], "annotations": annotations}
    gt.createIndex()
    evaluator = COCOeval(gt, gt.loadRes(results), iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


def test_map_equals_cocoeval_on_thresholds():
    images = threshold_set()
    metric = _mean_average_precision()
    for gts, dets in images:
        metric.update(
            [{"boxes": torch.tensor([b for _, b, _ in dets], dtype=torch.float32),
              "scores": torch.tensor([s for _, _, s in dets]),
              "labels": torch.tensor([lab for lab, _, _ in dets]),
              "masks": torch.stack([_mask(b) for _, b, _ in dets])}],
            [{"boxes": torch.tensor([b for _, b in gts], dtype=torch.float32),
              "labels": torch.tensor([lab for lab, _ in gts]),
              "masks": torch.stack([_mask(b) for _, b in gts]),
              "iscrowd": torch.zeros(len(gts), dtype=torch.uint8)}],
        )
    scores = metric.compute()
    for iou_type in ("segm", "bbox"):
        stats = _cocoeval_stats(images, iou_type)
        for key, index in SUMMARY.items():
            assert scores[f"{iou_type}_{key}"].item() == pytest.approx(stats[index], abs=1e-7), (iou_type, key)


def test_thresholds_are_cocoevals():
    from pycocotools.cocoeval import Params

    metric = _mean_average_precision()
    params = Params("segm")
    assert metric.iou_thresholds == params.iouThrs.tolist()
    assert metric.rec_thresholds == params.recThrs.tolist()
