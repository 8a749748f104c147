"""A tracker never costs a run: before a run goes online, its server is probed (one TCP connection,
``logger.<name>.connect_timeout`` seconds at most, name resolution included); a server that cannot
be reached sends the run to the tracker's offline store, with one warning naming how to upload it
later. Training results never depend on reaching a tracker."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from lightning.pytorch.utilities import rank_zero_warn

DEFAULT_CONNECT_TIMEOUT = 5.0


def check_timeout(name: str, timeout: float) -> float:
    """``logger.<name>.connect_timeout`` as seconds > 0 (clear error otherwise)."""
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0:
        raise ValueError(f"logger.{name}.connect_timeout={timeout!r}: use seconds > 0, e.g. 5")
    return value


def unreachable(url: str, timeout: float) -> str | None:
    """Why ``url``'s server cannot be reached within ``timeout`` seconds; None if it answers."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = parts.hostname
    if not host:
        return f"no host in {url!r}"
    port = parts.port or (80 if parts.scheme == "http" else 443)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(f"{type(err).__name__}: {err}")

    thread = threading.Thread(target=probe, daemon=True)  # a hung name lookup cannot hold the run
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def warn_offline(tracker: str, url: str, why: str, instead: str) -> None:
    """The one warning of a fallback: which server, why, where the run goes, how to upload it."""
    rank_zero_warn(f"{tracker} server {url} cannot be reached ({why}); {instead}", category=UserWarning)
