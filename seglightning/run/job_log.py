"""The job's log under a Hydra app: every line printed once, and the run's lines in its log file.

Hydra configures the root logger (``hydra/job_logging``: console + ``<job>.log``, e.g. ``train.log``
in the run dir). Lightning adds its own console handler to the ``lightning`` logger (and, when
imported before Hydra's set-up, to ``lightning.pytorch``/``lightning.fabric`` with propagation off),
so each of its INFO lines was printed twice, or never reached the log file. :func:`route_lightning_log`
removes those handlers: Lightning's records go through Hydra's handlers only. :func:`run_lines_in_log`
copies the run's own ``[seglightning] ...`` lines (printed to stdout, so they read the same outside
Hydra) into the log file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
RUN_LINE_PREFIX = "[seglightning] "


def route_lightning_log() -> None:
    """Send Lightning's records through the root logger's handlers only (when it has any: under Hydra)."""
    if not logging.getLogger().handlers:
        return
    import lightning  # noqa: F401  (its import adds the handlers removed here)

    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


class _RunLines:
    """A stdout that also hands each complete ``[seglightning]`` line to ``handlers`` (the log files)."""

    def __init__(self, stream: TextIO, handlers: list[logging.Handler]):
        self.stream, self.handlers, self.pending = stream, handlers, ""

    def write(self, text: str) -> int:
        written = self.stream.write(text)
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if line.startswith(RUN_LINE_PREFIX):
                message = line.removeprefix(RUN_LINE_PREFIX)
                record = logging.LogRecord("seglightning", logging.INFO, __file__, 0, message, None, None)
                for handler in self.handlers:
                    handler.handle(record)
        if not RUN_LINE_PREFIX.startswith(self.pending[: len(RUN_LINE_PREFIX)]):
            self.pending = ""  # not a run line (e.g. a progress bar): keep nothing
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def run_lines_in_log() -> Iterator[None]:
    """Within the block, ``[seglightning]`` lines on stdout also go to the root logger's log files."""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if not files:
        yield
        return
    stdout, sys.stdout = sys.stdout, _RunLines(sys.stdout, files)
    try:
        yield
    finally:
        sys.stdout = stdout
