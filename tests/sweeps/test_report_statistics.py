"""The report's decision statistics against independent oracles: multiple-testing adjustment and
t-test power against statsmodels, the rank bootstrap on per-image tables with known answers, and
the adjusted p-values, decisions and seeds needed as comparison.csv/.md and the CLI give them."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from seglightning.cli import report
from seglightning.metrics.image_counts import ImageCounts
from seglightning.sweeps.multiple_testing import adjust_pvalues
from seglightning.sweeps.power import seeds_needed, solve_seeds, t_test_power
from seglightning.sweeps.rank_stability import rank_bootstrap

from .test_report import fake_run, write_per_image

PVALUES = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.5, 0.0625, 1.0, 0.001, 0.012]


@pytest.mark.parametrize(("ours", "theirs"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_pvalues_are_statsmodels_multipletests(ours, theirs):
    expected = multipletests(PVALUES, method=theirs)[1]
    assert adjust_pvalues(PVALUES, ours) == pytest.approx(expected, abs=1e-15)
    shuffled = np.random.default_rng(0).permutation(len(PVALUES))  # order of the family does not matter
    assert adjust_pvalues(np.array(PVALUES)[shuffled], ours) == pytest.approx(expected[shuffled], abs=1e-15)


def test_nan_pvalues_stay_out_of_the_family():
    adjusted = adjust_pvalues([0.01, math.nan, 0.04], "holm")
    assert math.isnan(adjusted[1]) and adjusted[[0, 2]] == pytest.approx(multipletests([0.01, 0.04], method="holm")[1])
    assert list(adjust_pvalues([0.3, 0.01], "none")) == [0.3, 0.01]
    with pytest.raises(ValueError, match="--adjust bonferroni"):
        adjust_pvalues([0.1], "bonferroni")


@pytest.mark.parametrize("effect", [0.05, 0.3, 0.8, -0.8, 1.5, 2.5, 3.5])
def test_seeds_needed_is_statsmodels_ttestpower(effect):
    expected = TTestPower().solve_power(effect_size=abs(effect), alpha=0.05, power=0.8, alternative="two-sided")
    assert solve_seeds(effect) == pytest.approx(expected, rel=1e-6)
    n = 7.0
    assert t_test_power(effect, n) == pytest.approx(TTestPower().power(abs(effect), n, 0.05), rel=1e-9)


def test_seeds_needed_from_a_pilot():
    d = np.array([0.012, 0.004, 0.009, 0.015])
    effect = d.mean() / d.std(ddof=1)
    observed = seeds_needed(d)
    expected = TTestPower().solve_power(effect_size=effect, alpha=0.05, power=0.8)
    assert observed.n_exact == pytest.approx(expected, rel=1e-6) and observed.seeds == math.ceil(expected)
    assert observed.reliable and observed.text() == str(math.ceil(expected))
    named = seeds_needed(d, delta=0.002)
    assert named.n_exact == pytest.approx(TTestPower().solve_power(0.002 / d.std(ddof=1), alpha=0.05, power=0.8),
                                          rel=1e-6)
    two = seeds_needed([0.01, 0.03])
    assert not two.reliable and "unreliable: 2-seed pilot" in two.text()
    assert "needs ≥ 2 seeds" in seeds_needed([0.01]).text() and math.isnan(seeds_needed([0.01]).seeds)
    assert seeds_needed([0.01, 0.01, 0.01]).seeds == 2  # no spread: two seeds detect it
    assert math.isinf(seeds_needed([0.01, -0.01, 0.0]).seeds)  # no difference to detect


IDS = [f"img{i:03d}" for i in range(40)]


def counts(rng: np.random.Generator, quality: int, classes: int = 3) -> ImageCounts:
    tp = rng.integers(10, 100, (len(IDS), classes)) + quality
    return ImageCounts(IDS, tp, rng.integers(0, 50, tp.shape), rng.integers(0, 50, tp.shape))


def dominated(better: ImageCounts) -> ImageCounts:
    """Worse on every image and class: fewer TP, more FP and FN."""
    return ImageCounts(better.ids, better.tp // 2, better.fp + 10, better.fn + 10)


def test_a_cell_better_on_every_image_is_always_first():
    rng = np.random.default_rng(0)
    best = {s: counts(rng, 0) for s in (0, 1, 2)}
    cells = [(("a",), {s: dominated(c) for s, c in best.items()}), (("best",), best),
             (("c",), {s: dominated(dominated(c)) for s, c in best.items()})]
    result = rank_bootstrap(cells, "mIoU", draws=500, seed=1)
    by = {c.key[0]: c for c in result.cells}
    assert (by["best"].first, by["best"].median, by["best"].low, by["best"].high, by["best"].rank) == (1.0, 1, 1, 1, 1)
    assert (by["a"].rank, by["a"].low, by["a"].high) == (2, 2, 2) and by["c"].frequency[2] == 1.0
    assert result.images == 40 and result.seeds == [0, 1, 2] and result.draws == 500


def test_two_identical_cells_each_come_first_in_about_half_the_draws():
    rng = np.random.default_rng(1)
    same = {s: counts(rng, 30) for s in (0, 1)}
    cells = [(("x",), same), (("y",), dict(same)), (("worse",), {s: dominated(c) for s, c in same.items()})]
    result = rank_bootstrap(cells, "mDice", draws=4000, seed=5)
    x, y, worse = result.cells
    assert x.first + y.first == 1.0 and x.first == pytest.approx(0.5, abs=0.03)  # binomial sd 0.008
    assert (x.low, x.high, y.low, y.high) == (1, 2, 1, 2) and worse.first == 0 and worse.low == 3
    again = rank_bootstrap(cells, "mDice", draws=4000, seed=5)  # seeded: reproducible
    assert [c.first for c in again.cells] == [c.first for c in result.cells]
    other = rank_bootstrap(cells, "mDice", draws=4000, seed=6)
    assert [c.first for c in other.cells] != [c.first for c in result.cells]


def test_rank_bootstrap_scores_are_the_dataset_level_scores_of_the_full_data():
    rng = np.random.default_rng(2)
    runs = {s: counts(rng, 5 * s) for s in (0, 1)}
    cells = [(("a",), runs), (("b",), {s: counts(rng, 0) for s in (0, 1)})]
    result = rank_bootstrap(cells, "mIoU", draws=50)
    expected = np.mean([np.nanmean(r.tp.sum(0) / (r.tp.sum(0) + r.fp.sum(0) + r.fn.sum(0))) for r in runs.values()])
    assert result.cells[0].score == pytest.approx(expected, rel=1e-12)
    assert rank_bootstrap(cells[:1], "mIoU") is None
    with pytest.raises(ValueError, match="per-image counts determine"):
        rank_bootstrap(cells, "bF1")


def test_comparison_files_give_adjusted_pvalues_decisions_and_seeds_needed(tmp_path):
    rng = np.random.default_rng(3)
    for loss, quality in (("ce", 0.0), ("dice", 1.0), ("focal", 0.5), ("lovasz", 0.2)):
        for seed in range(6):
            write_per_image(fake_run(tmp_path, loss, "unet", seed, rng=rng), rng, 10, quality)
    report([str(tmp_path), "--adjust", "bh", "--delta", "0.05"])
    with open(tmp_path / "comparison.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["method"] == "seeds"]
    for metric in ("mIoU", "bF1"):
        family = [r for r in rows if r["metric"] == metric]
        assert len(family) == 3
        expected = multipletests([float(r["p_value"]) for r in family], method="fdr_bh")[1]
        assert [float(r["p_adjusted"]) for r in family] == pytest.approx(expected)
        for r in family:
            assert r["adjust"] == "bh"
            assert r["decision"] == ("tied" if float(r["p_adjusted"]) >= 0.05 else
                                     "better" if float(r["difference"]) > 0 else "worse")
            d = np.array([float(x.split(":")[1]) for x in r["per_seed"].split()])
            want = TTestPower().solve_power(abs(d.mean()) / d.std(ddof=1), alpha=0.05, power=0.8)
            assert float(r["seeds_needed"]) == math.ceil(want) or (want > 1e4 and r["seeds_needed"] == "inf")
            assert float(r["delta"]) == 0.05 and r["seeds_needed_reliable"] == "true"
    text = (tmp_path / "comparison.md").read_text()
    assert "Benjamini–Hochberg-adjusted" in text and "seeds for Δ = 0.05" in text and "p adj." in text
    ranks = (tmp_path / "ranks.md").read_text()
    assert "## mIoU" in ranks and "## mDice" in ranks and "10000 seeded draws" in ranks
    with open(tmp_path / "ranks.csv", newline="") as f:
        ranked = list(csv.DictReader(f))
    assert {r["loss"] for r in ranked} == {"ce", "dice", "focal", "lovasz"} and len(ranked) == 8
    assert sum(float(r["p_first"]) for r in ranked if r["metric"] == "mIoU") == pytest.approx(1.0)
