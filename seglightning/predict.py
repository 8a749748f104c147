"""``seglightning-predict ckpt=PATH input=DIR output=DIR [inference.mode=slide ...]``.

For every image in ``input`` (png/jpg/jpeg/bmp/tif), writes ``<stem>.png`` (palette PNG of class
indices, the dataset's colours) and ``<stem>_overlay.png`` (image | prediction blended) to ``output``,
predicted under the run's ``module.inference`` with the non-null ``inference.*`` keys replaced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from .checkpointing.load_run import load_module, stored_config
from .data.reader import IMAGE_SUFFIXES
from .data.transforms import build_transforms
from .tracking.media import colourize


def _device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else "cpu" if name == "auto" else name)


def predict(cfg: DictConfig) -> list[Path]:
    src, dst = Path(cfg.input), Path(cfg.output)
    if not src.is_dir():
        raise FileNotFoundError(f"input={src}: not a directory of images")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"input={src}: no images with suffix {sorted(IMAGE_SUFFIXES)}")
    stored = stored_config(cfg.ckpt)
    if stored is None:
        raise ValueError(
            f"ckpt={cfg.ckpt} was not written by seglightning-train (no stored config): predict needs the "
            "run's data transforms stored there; use a checkpoint from checkpoints/ of a run directory"
        )
    device = _device(str(cfg.device))
    module = load_module(cfg.ckpt, device, OmegaConf.to_container(cfg.inference, resolve=True))
    transform = build_transforms(stored["data"].get("transforms", {}).get("val"), module.hparams.ignore_index)
    palette = module.hparams.palette or [
        tuple(int(v) for v in np.random.default_rng(c).integers(0, 256, 3)) for c in range(module.hparams.num_classes)
    ]
    flat_palette = [v for c in palette for v in c]
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in files:
        try:
            image = np.asarray(Image.open(path).convert("RGB"))
        except OSError as err:
            raise ValueError(f"{path}: unreadable image ({err})") from err
        x = torch.from_numpy(transform(image=image)["image"].transpose(2, 0, 1)).float()[None].to(device)
        with torch.no_grad():
            pred = module.infer(x).argmax(1)[0].cpu().numpy().astype(np.uint8)
        mask_img = Image.fromarray(pred, mode="P")
        mask_img.putpalette(flat_palette + [0] * (768 - len(flat_palette)))
        mask_img.save(dst / f"{path.stem}.png")
        blend = (0.5 * image + 0.5 * colourize(pred, palette)).astype(np.uint8)
        Image.fromarray(np.concatenate([image, blend], axis=1)).save(dst / f"{path.stem}_overlay.png")
        written.append(dst / f"{path.stem}.png")
    print(f"[seglightning] wrote {len(written)} masks and overlays to {dst}")
    return written
