"""Gated-SCNN on a hand-made two-region image: edge target, edge outputs and its loss terms."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seglightning.data.extras import edge_band
from seglightning.losses import build_loss
from seglightning.models import build_model
from seglightning.models.gscnn import GatedSpatialConv2d, sobel_magnitude

H, W, BORDER = 32, 48, 24  # class 0 left of column 24, class 1 from it


def two_regions(void_rows: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image [1,3,H,W], mask [1,H,W], edge [1,H,W]): dark left, bright right, optional void top rows."""
    mask = np.zeros((H, W), np.int64)
    mask[:, BORDER:] = 1
    mask[:void_rows] = 255
    image = torch.full((1, 3, H, W), -1.0)
    image[..., BORDER:] = 1.0
    edge = edge_band(mask, num_classes=2, ignore_index=255, radius=2)
    return image, torch.from_numpy(mask)[None], torch.from_numpy(edge)[None]


def test_edge_target_is_the_radius_2_band_on_the_border():
    _, mask, edge = two_regions()
    columns = torch.nonzero(edge[0])[:, 1].unique().tolist()
    assert columns == [BORDER - 2, BORDER - 1, BORDER, BORDER + 1]
    assert edge[0, :, BORDER - 2 : BORDER + 2].all()


def test_image_gradient_peaks_on_the_border():
    image, _, _ = two_regions()
    grad = sobel_magnitude(image)[0, 0]
    assert grad[:, BORDER - 1 : BORDER + 1].min() == 1.0
    assert grad[:, : BORDER - 2].max() == 0.0 and grad[:, BORDER + 2 :].max() == 0.0


def test_gated_convolution_is_the_identity_gate_plus_one():
    gate = GatedSpatialConv2d(4).eval()
    shape, regular = torch.randn(1, 4, 5, 5), torch.randn(1, 1, 5, 5)
    alpha = gate.gate(torch.cat([shape, regular], 1))
    assert alpha.shape == (1, 1, 5, 5) and (alpha > 0).all() and (alpha < 1).all()
    torch.testing.assert_close(gate(shape, regular), gate.conv(shape * (1 + alpha)))


@pytest.mark.slow
def test_shape_stream_learns_the_border(one_thread):
    torch.manual_seed(0)
    image, mask, edge = two_regions()
    model = build_model("gscnn", num_classes=2, encoder="resnet18")
    loss = build_loss("gscnn_edge")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = image.repeat(2, 1, 1, 1), mask.repeat(2, 1, 1), edge.repeat(2, 1, 1)
    for _ in range(25):
        out = model(batch[0])
        optimizer.zero_grad()
        loss(out["logits"], batch[1], edge_logits=out["edge_logits"], edge=batch[2]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        prob = torch.sigmoid(model(image)["edge_logits"])[0, 0]
    on_band = edge[0].bool()
    assert prob[on_band].mean() > prob[~on_band].mean() + 0.3


def test_dual_task_loss_vanishes_for_a_perfect_prediction():
    torch.manual_seed(0)
    _, mask, _ = two_regions(void_rows=5)
    loss = build_loss("gscnn_dualtask")
    label = torch.where(mask == 255, 0, mask)
    perfect = 40.0 * F.one_hot(label, 2).permute(0, 3, 1, 2).float()
    shifted = torch.roll(perfect, shifts=4, dims=-1)
    assert loss(perfect, mask) < 1e-6
    assert loss(shifted, mask) > 0.01
    # void rows are zero in both maps: a prediction that differs only there costs nothing
    perfect_but_void = perfect.clone()
    perfect_but_void[:, :, :5] = torch.randn(1, 2, 5, W) * 40
    assert loss(perfect_but_void, mask) < 1e-6


def test_edge_bce_is_class_balanced_over_valid_pixels():
    _, mask, edge = two_regions(void_rows=4)
    logits = torch.randn(1, 1, H, W, requires_grad=True)
    value = build_loss("gscnn_edge")(torch.zeros(1, 2, H, W), mask, edge_logits=logits, edge=edge)
    valid = mask[0] != 255
    positive = edge[0].bool() & valid
    n_pos, n_valid = positive.sum().item(), valid.sum().item()
    weight = torch.where(positive, (n_valid - n_pos) / n_valid, n_pos / n_valid)[valid]
    per_pixel = F.binary_cross_entropy_with_logits(logits[0, 0][valid], positive[valid].float(), reduction="none")
    torch.testing.assert_close(value, (weight * per_pixel).sum() / n_valid)
    value.backward()
    assert logits.grad[0, 0, :4].abs().max() == 0  # void rows get no gradient


def test_attention_term_is_the_segmentation_loss_on_confident_edges():
    _, mask, _ = two_regions()
    logits = torch.randn(1, 2, H, W)
    edge_logits = torch.full((1, 1, H, W), -5.0)
    edge_logits[..., BORDER - 1 : BORDER + 1] = 5.0  # sigmoid(5) > 0.8
    value = build_loss({"name": "gscnn_attention", "threshold": 0.8})(logits, mask, edge_logits=edge_logits)
    expected = F.cross_entropy(logits[..., BORDER - 1 : BORDER + 1], mask[..., BORDER - 1 : BORDER + 1])
    torch.testing.assert_close(value, expected)


@pytest.mark.parametrize("name", ["gscnn_edge", "gscnn_attention", "gscnn_dualtask"])
def test_all_void_batches_give_zero_with_a_gradient_path(name):
    _, mask, edge = two_regions()
    void = torch.full_like(mask, 255)
    logits = torch.randn(1, 2, H, W, requires_grad=True)
    edge_logits = torch.randn(1, 1, H, W, requires_grad=True)
    value = build_loss(name)(logits, void, edge_logits=edge_logits, edge=edge)
    assert value.item() == 0.0
    value.backward()


def test_edge_terms_say_which_output_they_need():
    _, mask, edge = two_regions()
    with pytest.raises(ValueError, match="edge_logits.*model=gscnn"):
        build_loss("gscnn_edge")(torch.randn(1, 2, H, W), mask, edge=edge)
    with pytest.raises(ValueError, match="data.extras"):
        build_loss("gscnn_edge")(torch.randn(1, 2, H, W), mask, edge_logits=torch.randn(1, 1, H, W))


def test_boundary_f1_tolerances_are_gscnns_fractions_of_the_diagonal():
    from omegaconf import OmegaConf

    from seglightning.metrics import EvaluationMetrics
    from seglightning.metrics.boundary import tolerance_pixels
    from seglightning.modules.base import boundary_tolerance

    conf = OmegaConf.to_container(OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "model" / "gscnn.yaml"))
    gscnn_eval_thresholds = (0.0005, 0.001875, 0.00375, 0.005)  # GSCNN train.py --eval_thresholds
    assert tuple(conf["bf1_tolerance"]) == gscnn_eval_thresholds
    options = {k: v for k, v in conf.items() if k != "name"}
    model = build_model("gscnn", num_classes=2, **{**options, "encoder": "resnet18"})
    tolerances = boundary_tolerance(model, None)
    assert tuple(tolerances) == gscnn_eval_thresholds
    assert tuple(build_model("gscnn", num_classes=2, encoder="resnet18").bf1_tolerance) == gscnn_eval_thresholds
    assert [tolerance_pixels(t, 1024, 2048) for t in tolerances] == [2, 5, 9, 12]  # Cityscapes, ceil
    metrics = EvaluationMetrics(2, 255, ["a", "b"], tolerances)
    _, mask, _ = two_regions()
    metrics.update(mask, mask, torch.tensor(0.0))
    names = {k for k in metrics.compute("val") if k.startswith("val/bF1")}
    assert names == {"val/bF1", *(f"val/bF1@{t}diag" for t in ("0.0005", "0.001875", "0.00375", "0.005"))}


def _gscnn_binary_edges(onehot: np.ndarray, radius: int = 2) -> np.ndarray:
    """Transcription of GSCNN's edge_utils.onehot_to_binary_edges: zero-padded class maps."""
    from scipy.ndimage import distance_transform_edt

    padded = np.pad(onehot, ((0, 0), (1, 1), (1, 1)), mode="constant", constant_values=0)
    edgemap = np.zeros(onehot.shape[1:])
    for channel in padded:
        dist = distance_transform_edt(channel) + distance_transform_edt(1.0 - channel)
        dist = dist[1:-1, 1:-1]
        dist[dist > radius] = 0
        edgemap += dist
    return (edgemap > 0).astype(np.uint8)


def test_edge_target_equals_gscnn_away_from_the_frame_and_leaves_the_frame_out():
    rng = np.random.default_rng(0)
    mask = np.kron(rng.integers(0, 3, (6, 8)), np.ones((7, 7), np.int64))[:40, :50]
    ours = edge_band(mask, num_classes=3, ignore_index=255, radius=2)
    reference = _gscnn_binary_edges(np.stack([mask == c for c in range(3)]).astype(np.uint8))
    np.testing.assert_array_equal(ours[2:-2, 2:-2], reference[2:-2, 2:-2])
    frame = np.ones_like(mask, dtype=bool)
    frame[2:-2, 2:-2] = False
    assert reference[frame].all()  # GSCNN: a 2-px band along the whole image frame
    assert not ours[frame].all()  # here: the frame is an edge only where a class boundary meets it
    _, _, edge = two_regions()
    assert not edge[0, :, : BORDER - 2].any() and not edge[0, :, BORDER + 2 :].any()
