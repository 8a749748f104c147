"""The mask pre-check benchmark runs end to end on a shrunk split (README: ``python -m benchmarks mask_check``)."""

from __future__ import annotations

from benchmarks import mask_check


def test_rows_for_each_level_and_the_extrapolation(capsys) -> None:
    mask_check.main(
        ["--images", "5", "--distinct", "2", "--repeats", "1", "--workers", "2", "--full", "--size", "64", "128"]
    )
    text = capsys.readouterr().out
    assert text.startswith("5 pairs at 128x64 (2 distinct")
    for row in ("| header | 1 |", "| masks | 1 |", "| masks | 2 |", "| full | 2 |"):
        assert row in text
    result = mask_check.run(images=4, distinct=1, repeats=1, workers=1, size=(64, 128))
    assert [r["check"] for r in result["rows"]] == ["header", "masks"]  # masks on 1 thread once
    for r in result["rows"]:
        assert abs(r["cityscapes_s"] - r["seconds"] / 4 * 2975) < 1e-9
