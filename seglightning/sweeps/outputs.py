"""The names of the report's files: those of ``--metrics best`` (the default) plain, those of
``final`` and ``test`` with the section as a suffix (``results-test.md``, ``report-test.html``), so
reports of several sections live side by side in one sweep dir; ``runs.csv`` is shared."""

from __future__ import annotations

from pathlib import Path

DEFAULT_SECTION = "best"
SECTION_SUFFIXES = ("final", "test")  # the sections whose files carry a suffix
UNSUFFIXED = ("runs.csv",)  # the same whatever the metrics section


def output_name(name: str, section: str) -> str:
    """``results.md`` for the default section, ``results-test.md`` for ``test`` (``runs.csv`` always)."""
    if section == DEFAULT_SECTION or name in UNSUFFIXED:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{section}{dot}{ext}"


def of_section(path: Path, section: str) -> bool:
    """Whether a report file in the sweep dir belongs to ``section``'s report (shared files do)."""
    stem = path.stem
    suffix = next((s for s in SECTION_SUFFIXES if stem.endswith(f"-{s}")), None)
    return suffix == section or (suffix is None and (section == DEFAULT_SECTION or path.name in UNSUFFIXED))
