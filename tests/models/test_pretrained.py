"""Pretrained weights through the libraries' own caches, offline: the caches are populated in the
layout the libraries read (a Hugging Face hub snapshot; ``$TORCH_HOME/hub/checkpoints/<torchvision
file name>``) with generated state dicts, and the built model must hold exactly the file's tensors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file
from torchvision.models import ResNet50_Weights
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights, maskrcnn_resnet50_fpn

from seglightning.models import build_model
from seglightning.models.encoders import Encoder
from seglightning.models.pretrained import WeightsUnavailableError


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache under ``HF_HOME``, offline (the client reads its constants at
    import, so they are patched as well as the environment)."""
    from huggingface_hub import constants

    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return home / "hub"


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "torch" / "hub" / "checkpoints"


def random_state(reference: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Random tensors with the reference's names, shapes and dtypes."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone()
        for k, v in reference.items()
    }


def hf_snapshot(
    cache: Path,
    repo: str,
    files: dict[str, dict[str, torch.Tensor] | dict],
    revision: str | None = None,
) -> None:
    """A hub-cache snapshot as ``huggingface_hub`` lays it out: ``models--org--name/snapshots/<commit>``
    with ``refs/main`` naming the commit (safetensors for state dicts, JSON for configs)."""
    commit = revision or hashlib.sha1(repo.encode()).hexdigest()
    root = cache / f"models--{repo.replace('/', '--')}"
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    for name, content in files.items():
        if name.endswith(".safetensors"):
            save_file({k: v.contiguous() for k, v in content.items()}, str(snapshot / name))
        else:
            (snapshot / name).write_text(json.dumps(content))


def compact_state(reference: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Distinct values for each tensor of a large model, stored compactly: every floating tensor
    is a view at its own offset into one shared random storage (``torch.save`` writes it once)."""
    floats = [v for v in reference.values() if v.is_floating_point()]
    base = torch.randn(
        max(v.numel() for v in floats) + len(floats), generator=torch.Generator().manual_seed(seed)
    )
    state, offset = {}, 0
    for k, v in reference.items():
        if v.is_floating_point():
            state[k] = base[offset : offset + v.numel()].view(v.shape)
            offset += 1
        else:
            state[k] = v.clone()
    return state


PREDICTORS = ("roi_heads.box_predictor.", "roi_heads.mask_predictor.")


def assert_holds(
    module: torch.nn.Module, state: dict[str, torch.Tensor], exclude: tuple[str, ...] = ()
) -> int:
    """Every tensor of ``module`` found in ``state`` (but those under ``exclude``) equals it; the count."""
    own = module.state_dict()
    shared = [k for k in own if k in state and not k.startswith(exclude)]
    for k in shared:
        assert torch.equal(own[k], state[k]), k
    return len(shared)


def test_timm_default_tag_and_named_tag_load_from_the_hub_cache(hf_cache):
    file_state = random_state(timm.create_model("test_resnet").state_dict(), seed=1)
    hf_snapshot(hf_cache, "timm/test_resnet.r160_in1k", {"model.safetensors": file_state})
    for pretrained in (True, "r160_in1k"):
        encoder = Encoder("test_resnet", pretrained=pretrained)
        assert (
            assert_holds(encoder.body, file_state) == len(file_state) - 2
        )  # all but the classifier


def test_timm_hf_hub_repository(hf_cache):
    file_state = random_state(timm.create_model("test_resnet").state_dict(), seed=2)
    hf_snapshot(hf_cache, "someone/test-resnet-finetuned", {"model.safetensors": file_state})
    encoder = Encoder(
        "test_resnet", output_stride=16, pretrained="hf-hub:someone/test-resnet-finetuned"
    )
    assert assert_holds(encoder.body, file_state) == len(file_state) - 2


def test_deeplab_config_value_reaches_the_encoder(hf_cache):
    file_state = random_state(timm.create_model("test_resnet").state_dict(), seed=3)
    hf_snapshot(hf_cache, "timm/test_resnet.r160_in1k", {"model.safetensors": file_state})
    model = build_model("deeplabv3", num_classes=3, encoder="test_resnet", pretrained=True)
    assert assert_holds(model.encoder.body, file_state) == len(file_state) - 2


def test_offline_without_cache_is_one_clear_error(hf_cache):
    with pytest.raises(
        WeightsUnavailableError,
        match=r"timm/test_resnet\.r160_in1k.*Hugging Face cache .*hf.hub.*HF_HUB_OFFLINE.*hf download",
    ):
        Encoder("test_resnet", pretrained=True)
    with pytest.raises(ValueError, match="no pretrained weights 'in22k'.*tags: r160_in1k"):
        Encoder("test_resnet", pretrained="in22k")


def test_unreachable_hub_without_cache_fails_at_once(hf_cache, monkeypatch):
    """Online mode but no network: one clear error after a single connection attempt, instead of
    the hub client's minute of retries (the connection is refused here, nothing leaves the machine)."""
    from huggingface_hub import constants

    from seglightning.models import pretrained

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    for name in pretrained.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    attempts = []

    def refuse(address, timeout):
        attempts.append(address)
        raise OSError("network is unreachable")

    monkeypatch.setattr(pretrained.socket, "create_connection", refuse)
    with pytest.raises(
        WeightsUnavailableError,
        match=r"huggingface\.co is unreachable: network is unreachable.*hf download timm/test_resnet",
    ):
        Encoder("test_resnet", pretrained=True)
    with pytest.raises(
        WeightsUnavailableError, match=r"smp-hub/mobilenet_v2\.imagenet.*unreachable"
    ):
        build_model(
            "smp", num_classes=2, arch="fpn", encoder="mobilenet_v2", encoder_weights="imagenet"
        )
    assert attempts == [("huggingface.co", 443)] * 2
    build_model(
        "smp", num_classes=2, arch="fpn", encoder="mobilenet_v2"
    )  # no weights: no connection
    Encoder("test_resnet")
    assert len(attempts) == 2


def test_smp_timm_encoder_loads_from_the_hub_cache(hf_cache):
    file_state = random_state(timm.create_model("test_resnet").state_dict(), seed=4)
    hf_snapshot(hf_cache, "timm/test_resnet.r160_in1k", {"model.safetensors": file_state})
    model = build_model(
        "smp", num_classes=2, arch="fpn", encoder="tu-test_resnet", encoder_weights=True
    )
    assert assert_holds(model.net.encoder.model, file_state) == len(file_state) - 2


def test_smp_own_encoder_weights_load_from_the_hub_cache(hf_cache):
    import segmentation_models_pytorch as smp

    settings = smp.encoders.encoders["mobilenet_v2"]["pretrained_settings"]["imagenet"]
    reference = smp.encoders.get_encoder("mobilenet_v2").state_dict()
    file_state = random_state(reference, seed=5)
    hf_snapshot(
        hf_cache,
        settings["repo_id"],
        {"config.json": {}, "model.safetensors": file_state},
        settings["revision"],
    )
    model = build_model(
        "smp", num_classes=2, arch="fpn", encoder="mobilenet_v2", encoder_weights="imagenet"
    )
    assert assert_holds(model.net.encoder, file_state) == len(file_state)
    with pytest.raises(WeightsUnavailableError, match=r"smp-hub/resnet18\.imagenet.*--revision"):
        build_model("smp", num_classes=2, arch="fpn", encoder="resnet18", encoder_weights=True)


@pytest.mark.slow
def test_maskrcnn_coco_weights_with_head_surgery(torch_home):
    reference = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
    file_state = compact_state(reference, seed=6)
    torch_home.mkdir(parents=True)
    torch.save(file_state, torch_home / Path(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.url).name)

    coco = build_model("maskrcnn", num_classes=91, weights="DEFAULT", min_size=64, max_size=64).net
    assert assert_holds(coco, file_state) == len(
        [k for k in reference if not k.endswith("num_batches_tracked")]
    )

    fine_tune = build_model(
        "maskrcnn", num_classes=3, weights="COCO_V1", min_size=64, max_size=64
    ).net
    kept = [k for k in fine_tune.state_dict() if not k.startswith(PREDICTORS)]
    assert assert_holds(fine_tune, file_state, PREDICTORS) == len(
        kept
    )  # everything but the predictors
    assert fine_tune.roi_heads.box_predictor.cls_score.out_features == 3
    assert fine_tune.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 3
    conv5 = fine_tune.roi_heads.mask_predictor.conv5_mask.weight
    assert not torch.equal(
        conv5, file_state["roi_heads.mask_predictor.conv5_mask.weight"]
    )  # re-initialised


def test_maskrcnn_backbone_imagenet_weights(torch_home):
    from torchvision.models import resnet50

    reference = resnet50().state_dict()
    file_state = compact_state(reference, seed=7)
    torch_home.mkdir(parents=True)
    torch.save(file_state, torch_home / Path(ResNet50_Weights.IMAGENET1K_V1.url).name)
    net = build_model(
        "maskrcnn", num_classes=3, weights_backbone="IMAGENET1K_V1", min_size=64, max_size=64
    ).net
    backbone = [
        k for k in reference if not k.startswith("fc.") and not k.endswith("num_batches_tracked")
    ]
    assert assert_holds(net.backbone.body, file_state) == len(backbone)
    # torchvision's fine-tuning set-up: frozen BatchNorm, the first stages frozen
    assert type(net.backbone.body.bn1).__name__ == "FrozenBatchNorm2d"
    assert (
        not net.backbone.body.conv1.weight.requires_grad
        and net.backbone.body.layer4[0].conv1.weight.requires_grad
    )


def test_maskrcnn_weights_offline_without_cache_and_bad_names(torch_home):
    with pytest.raises(
        WeightsUnavailableError,
        match=r"COCO_V1.*maskrcnn_resnet50_fpn_coco-bf2d0c1e\.pth.*torchvision's cache .*hub.checkpoints.*Pre-fetch",
    ):
        build_model("maskrcnn", num_classes=3, weights="COCO_V1")
    with pytest.raises(
        ValueError,
        match="model.weights=COCO_V9: not a MaskRCNN_ResNet50_FPN_Weights member; choose one of DEFAULT, COCO_V1",
    ):
        build_model("maskrcnn", num_classes=3, weights="COCO_V9")


def test_maskrcnn_local_state_dict_with_other_classes(tmp_path):
    file_state = compact_state(
        maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=5).state_dict(),
        seed=8,
    )
    path = tmp_path / "maskrcnn_5.pth"
    torch.save(file_state, path)
    net = build_model("maskrcnn", num_classes=3, weights=str(path), min_size=64, max_size=64).net
    kept = [k for k in net.state_dict() if not k.startswith(PREDICTORS)]
    assert assert_holds(net, file_state, PREDICTORS) == len(kept)
    assert net.roi_heads.box_predictor.cls_score.out_features == 3


def test_readme_pretrained_commands_compose_to_the_named_weights():
    """The README's commands (`model=deeplabv3plus model.encoder=resnet101 model.pretrained=tv_in1k`,
    `model=maskrcnn model.weights=COCO_V1 data=coco`) name the weights they say, without a download."""
    from seglightning.models.maskrcnn_weights import WEIGHTS
    from seglightning.models.pretrained import timm_source
    from tests.conftest import compose_config

    cfg = compose_config(
        "train", ["model=deeplabv3plus", "model.encoder=resnet101", "model.pretrained=tv_in1k"]
    )
    assert timm_source(cfg.model.encoder, cfg.model.pretrained) == (
        "resnet101.tv_in1k",
        {"pretrained": True},
        "timm/resnet101.tv_in1k",
    )
    cfg = compose_config(
        "train", ["model=maskrcnn", "model.weights=COCO_V1", "data=coco", "data.root=/data/coco"]
    )
    assert (
        WEIGHTS[cfg.model.variant].verify(cfg.model.weights)
        is MaskRCNN_ResNet50_FPN_Weights.COCO_V1
    )
    assert cfg.model.weights_backbone is None
