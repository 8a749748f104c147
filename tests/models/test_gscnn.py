"""Gated-SCNN on a hand-made two-region image: edge target, edge outputs and its loss terms."""

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
