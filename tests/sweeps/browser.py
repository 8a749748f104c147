"""Open a report page in Debian's headless chromium (installed by ``.ci/run``): a screenshot and the
DOM after load, with every host name unresolvable and no proxy reachable, so nothing is fetched."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
)
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def chromium(page: Path, work: Path, *args: str) -> subprocess.CompletedProcess:
    work.mkdir(parents=True, exist_ok=True)
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", f"--user-data-dir={work / 'profile'}", *OFFLINE, *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=work)


def screenshot(page: Path, work: Path, size: tuple[int, int] = (1280, 2400)) -> np.ndarray:
    """The page rendered at ``size`` as an RGB array."""
    out = work / "screenshot.png"
    done = chromium(page, work, f"--screenshot={out}", f"--window-size={size[0]},{size[1]}")
    assert out.is_file(), f"no screenshot: {done.stderr[-2000:]}"
    return np.asarray(Image.open(out).convert("RGB"))


def dump_dom(page: Path, work: Path) -> str:
    """The serialised DOM after the page loaded."""
    done = chromium(page, work, "--dump-dom")
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def check_report_page(page: Path, work: Path, min_images: int) -> str:
    """report.html renders (the screenshot is not blank), its DOM after load has the report's tables
    and at least ``min_images`` embedded images, and nothing in it points to the network."""
    pixels = screenshot(page, work).astype(np.float64)
    assert pixels.std() > 10, "blank screenshot"
    assert (pixels < 200).any(-1).mean() > 0.01, "almost nothing drawn"
    dom = dump_dom(page, work)
    for marker in ('id="grid"', 'id="results.csv"', 'id="comparison.csv"', 'id="intervals"', "<table"):
        assert marker in dom, marker
    assert dom.count("<table") >= 4
    assert dom.count('src="data:image/png;base64,') >= min_images
    assert "http://" not in dom and "https://" not in dom
    return dom
