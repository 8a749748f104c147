"""Pretrained weights the way the ecosystem provides them, or from a local file.

- timm encoders (and smp's ``tu-`` encoders): timm's own loading, which reads the Hugging Face hub
  cache (``HF_HOME`` / ``HF_HUB_CACHE``; ``HF_HUB_OFFLINE=1`` reads the cache only) and downloads
  into it otherwise. :func:`timm_source` turns a config value into timm's arguments: ``true`` (the
  architecture's default tag), a tag (``a1_in1k``: ``resnet50.a1_in1k``), ``hf-hub:org/name`` (a hub
  repository holding weights of that architecture) or a local file.
- smp's own encoders: smp's weight names (``imagenet``, ``ssl``, ...), also from the hub cache.
- torchvision: a weights enum member by name (``COCO_V1``, ``DEFAULT``, ``IMAGENET1K_V1``), read from
  ``$TORCH_HOME/hub/checkpoints/<file name of the enum's url>`` as torchvision does
  (:func:`torchvision_weights`); downloaded there with a socket timeout unless ``HF_HUB_OFFLINE`` is
  set, which this module honours for torchvision too.

Weights that are neither cached nor downloadable raise :class:`WeightsUnavailableError` naming the
weights, the cache directory looked in and how to pre-fetch them (never a hang: the hub client has
10 s timeouts, torchvision downloads get :data:`DOWNLOAD_TIMEOUT_S`).
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

HF_PREFIX = "hf-hub:"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".tar")
DOWNLOAD_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 5.0
HF_WEIGHTS_FILE = "model.safetensors"  # what timm's and smp's hub repositories hold
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights that are neither in the cache nor downloadable."""


def offline() -> bool:
    """``HF_HUB_OFFLINE`` is set: read caches only (also for torchvision's weights)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def is_local_file(value: Any) -> bool:
    """A weights value that names a file (a path, not a tag or hub id)."""
    if isinstance(value, Path):
        return True
    text = str(value)
    return not text.startswith(HF_PREFIX) and (
        os.sep in text or "/" in text or text.startswith("~") or text.endswith(CHECKPOINT_SUFFIXES)
    )


def local_checkpoint(path: str | Path, what: str) -> Path:
    """``path`` as an existing file, or a ``FileNotFoundError`` naming the config value."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"{what}: pretrained checkpoint '{file}' does not exist; give an existing local file, a "
            f"weights name (true, a timm tag, hf-hub:org/name, a torchvision enum name) or null"
        )
    return file


def read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (a bare state dict or one under ``state_dict``/``model``)."""
    state = torch.load(file, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"{file}: not a state dict (expected a mapping of parameter names to tensors)"
        )
    return state


def hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _hf_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    return (
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        urllib.error.URLError,
        ConnectionError,
        TimeoutError,
    )


@contextmanager
def download_timeout(seconds: float = DOWNLOAD_TIMEOUT_S) -> Iterator[None]:
    """A socket timeout for downloads that set none (torch.hub's urllib), restored afterwards."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _hub_error(
    what: str, repo: str, reason: str, prefetch: str | None, revision: str | None
) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"{what}: pretrained weights '{repo}' are not in the Hugging Face cache {hf_cache_dir()} "
        f"and cannot be downloaded ({reason}). Pre-fetch them on a machine with network and the "
        f"same HF_HOME (`hf download {repo}{f' --revision {revision}' if revision else ''}`"
        f"{f', or `{prefetch}`' if prefetch else ''}), then copy that cache here"
    )


def _check_hub_reachable(what: str, repo: str, prefetch: str | None, revision: str | None) -> None:
    """Fail at once when the weights file is not cached and the hub's host cannot be reached (the
    hub client would retry for about a minute first). Skipped offline (the client then fails at
    once itself) and behind a proxy (only the client knows how to reach the hub)."""
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE or any(os.environ.get(v) for v in PROXY_VARIABLES):
        return
    if isinstance(try_to_load_from_cache(repo, HF_WEIGHTS_FILE, revision=revision), str):
        return
    host = urllib.parse.urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=PROBE_TIMEOUT_S).close()
    except OSError as err:
        raise _hub_error(what, repo, f"{host} is unreachable: {err}", prefetch, revision) from err


@contextmanager
def hub_download(
    what: str, repo: str | None, prefetch: str | None = None, revision: str | None = None
) -> Iterator[None]:
    """Weights from the Hugging Face hub (``repo``; ``None`` for none): "not cached and not
    downloadable" becomes one clear error, also for timm's URL downloads, which get a timeout."""
    if repo is not None:
        _check_hub_reachable(what, repo, prefetch, revision)
    try:
        with download_timeout():
            yield
    except _hf_errors() as err:
        reason = "HF_HUB_OFFLINE is set" if offline() else f"download failed: {type(err).__name__}"
        raise _hub_error(what, repo or "timm URL weights", reason, prefetch, revision) from err


def timm_source(name: str, pretrained: Any) -> tuple[str, dict[str, Any], str | None]:
    """``(model name, timm.create_model kwargs, hub repo or None)`` for an encoder's ``pretrained``.

    ``None``/``False``: random init; ``True``: the default tag; a tag; ``hf-hub:org/name``; a file."""
    import timm

    if pretrained is None or pretrained is False:
        return name, {}, None
    if is_local_file(pretrained):
        return name, {"pretrained": True, "pretrained_cfg_overlay": {"file": str(pretrained)}}, None
    if isinstance(pretrained, str) and pretrained.startswith(HF_PREFIX):
        repo = pretrained[len(HF_PREFIX) :]
        return (
            name,
            {"pretrained": True, "pretrained_cfg_overlay": {"hf_hub_id": repo, "source": "hf-hub"}},
            repo,
        )
    full = name if pretrained is True else f"{name.split('.')[0]}.{pretrained}"
    try:
        cfg = timm.models.get_pretrained_cfg(full)
    except RuntimeError:  # timm: "Invalid pretrained tag"
        cfg = None
    if cfg is None:
        tags = [t.split(".", 1)[1] for t in timm.list_pretrained(f"{name.split('.')[0]}.*")]
        raise ValueError(
            f"encoder '{name}' has no pretrained weights '{pretrained}' in timm (config key "
            f"model.pretrained); its tags: {', '.join(tags) or 'none'}; or hf-hub:org/name, or a file"
        )
    return (
        full,
        {"pretrained": True},
        cfg.hf_hub_id or None,
    )  # None: a URL download (torch.hub cache)


def torchvision_weights(enum: type, value: Any, key: str) -> Any:
    """The member of torchvision weights ``enum`` named ``value`` (``DEFAULT`` allowed), with its
    file in torchvision's cache (downloaded with a timeout unless offline); ``None`` for null."""
    if value is None or value is False:
        return None
    try:
        weights = enum.verify(str(value))
    except (ValueError, KeyError):
        names = ", ".join(["DEFAULT", *(m.name for m in enum)])
        raise ValueError(
            f"{key}={value}: not a {enum.__name__} member; choose one of {names}, or null"
        ) from None
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    file = cache / os.path.basename(weights.url)
    if file.is_file():
        return weights
    prefetch = (
        f"python -c \"import torch; torch.hub.load_state_dict_from_url('{weights.url}')\" "
        f"(or download that url into {cache})"
    )
    if offline():
        raise WeightsUnavailableError(
            f"{key}={value}: {weights} ({file.name}) is not in torchvision's cache {cache} (TORCH_HOME) and "
            f"HF_HUB_OFFLINE is set. Pre-fetch it on a machine with network: {prefetch}"
        )
    try:
        cache.mkdir(parents=True, exist_ok=True)
        digest = torch.hub.HASH_REGEX.search(file.name)
        with download_timeout():
            torch.hub.download_url_to_file(
                weights.url, str(file), digest.group(1) if digest else None, progress=False
            )
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        raise WeightsUnavailableError(
            f"{key}={value}: {weights} ({file.name}) is not in torchvision's cache {cache} (TORCH_HOME) and the "
            f"download failed ({err}). Pre-fetch it on a machine with network: {prefetch}"
        ) from err
    return weights
