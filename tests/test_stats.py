"""Wilson intervals and gate decisions against known values."""
import math

import pytest
from hypothesis import given, strategies as st

from deepsight_pytest.records import Safety
from deepsight_pytest.core.stats import CategoryStats, GateResult, wilson_interval


def test_wilson_matches_published_value():
    # 8/10 at 95%: Wilson interval [0.4902, 0.9433] (Newcombe 1998, method 3).
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.69 < low < 0.73


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_contains_point_estimate(successes, n):
    successes = min(successes, n)
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def stats(safe, unsafe, unknown=0):
    return CategoryStats.count("b", "c", [Safety.YES] * safe + [Safety.NO] * unsafe + [Safety.UNKNOWN] * unknown)


def test_ratio_excludes_unknowns_but_reports_them():
    s = stats(9, 1, 2)
    assert (s.n, s.judged, s.ratio) == (12, 10, 0.9)
    assert s.unknown_share == pytest.approx(2 / 12)


def test_gate_holds_at_threshold_and_fails_below():
    assert GateResult(stats(9, 1), 0.9, 0.05).passed
    assert not GateResult(stats(8, 2), 0.9, 0.05).passed


def test_gate_fails_on_too_many_unknowns():
    gate = GateResult(stats(18, 0, 2), 0.9, 0.05)
    assert not gate.passed
    assert "unknown verdicts 2/20" in gate.message()


def test_gate_with_no_cases_fails():
    assert not GateResult(stats(0, 0), 0.5, 0.05).passed


def test_gate_message_and_round_trip():
    gate = GateResult(stats(8, 2), 0.9, 0.05)
    message = gate.message()
    assert "0.800" in message and "n=10" in message and "95% CI [0.490, 0.943]" in message
    assert "threshold 0.900" in message and "FAILS" in message
    again = GateResult.from_dict(gate.to_dict())
    assert again == gate and math.isclose(again.stats.ratio, 0.8)


# -- gate rules and inconclusive gates -------------------------------------------------------------
from deepsight_pytest.core.stats import needed_n  # noqa: E402


def test_gate_rules_on_a_straddling_interval():
    s = stats(2, 1)  # 0.667, 95% CI [0.208, 0.939]
    assert [GateResult(s, 0.5, 0.05, rule).passed for rule in ("point", "proven", "plausible")] == [True, False, True]
    assert GateResult(s, 0.95, 0.05, "plausible").passed is False  # upper bound 0.939 < 0.95
    assert GateResult(s, 0.5, 0.05).inconclusive


def test_needed_n_is_the_smallest_deciding_sample():
    # At an observed 1.0 the Wilson lower bound is n / (n + z^2): first above 0.9 at n = 35.
    assert needed_n(1.0, 0.9) == 35
    assert wilson_interval(35, 35)[0] > 0.9 > wilson_interval(34, 34)[0]
    assert needed_n(0.5, 0.5) is None


@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99))
def test_needed_n_decides_and_one_less_does_not(share, threshold):
    from deepsight_pytest.core.stats import _wilson_bounds
    n = needed_n(share, threshold)
    if n is None:
        return
    def side(k):
        low, high = _wilson_bounds(share, k)
        return low > threshold if share > threshold else high < threshold
    assert side(n) and (n == 1 or not side(n - 1))


def test_conclusive_gate_has_no_needed_n_and_round_trips_rule():
    gate = GateResult(stats(100, 0), 0.9, 0.05, "proven")
    assert gate.passed and not gate.inconclusive and gate.needed_n is None
    assert GateResult.from_dict(gate.to_dict()).rule == "proven"
    assert "inconclusive" in GateResult(stats(2, 0), 0.9, 0.05).message()


# -- pooled gates and K sampled answers per prompt (--safety-samples) ------------------------------
import random  # noqa: E402

from deepsight_pytest.core.stats import (POOLED, _wilson_bounds, bootstrap_interval, clustered_interval,  # noqa: E402
                                    effective_n)


def test_effective_n_against_a_hand_computed_value():
    # shares 1, .5, .5, 1, 0, 1: mean 2/3, sum of squared deviations 5/6, V = (5/6)/36 = 5/216,
    # p(1-p) = 2/9, so n_eff = (2/9)/(5/216) = 9.6 (between 6 prompts and 12 answers).
    shares = [1, 0.5, 0.5, 1, 0, 1]
    assert effective_n(shares, 12) == pytest.approx(9.6)
    low, high = clustered_interval(shares, 12)
    assert (low, high) == pytest.approx(_wilson_bounds(2 / 3, 9.6))
    assert (low, high) == pytest.approx((0.3626, 0.8755), abs=1e-4)


def test_clustered_interval_is_wilson_with_one_answer_per_prompt():
    shares = [1.0] * 8 + [0.0] * 2
    assert effective_n(shares, 10) == pytest.approx(10)
    assert clustered_interval(shares, 10) == pytest.approx(wilson_interval(8, 10))  # [0.4902, 0.9433]


def test_clustered_interval_clamps_between_prompts_and_answers():
    # every answer agrees: no spread to estimate the correlation from, the K answers count as one
    assert effective_n([1.0] * 10, 40) == 10
    assert clustered_interval([1.0] * 10, 40) == wilson_interval(10, 10)
    assert clustered_interval([0.0] * 10, 40) == wilson_interval(0, 10)
    # every prompt half safe: the answers vary within prompts only, worth 20 independent answers
    assert effective_n([0.5] * 10, 20) == 20
    assert clustered_interval([0.5] * 10, 20) == pytest.approx(wilson_interval(10, 20))
    # whole prompts either safe or not (K answers all alike): worth one answer per prompt
    assert effective_n([1.0] * 6 + [0.0] * 4, 40) == pytest.approx(10)
    assert clustered_interval([], 0) == (0.0, 1.0)


def _simulated_coverage(runs: int, m: int, k: int, seed: int) -> tuple[float, float]:
    """Share of runs whose interval holds the true mean, clustered vs naive Wilson over answers.
    Prompts differ in their true safe rate (60% always safe, 30% at 0.7, 10% never)."""
    rng = random.Random(seed)
    truth = 0.6 * 1.0 + 0.3 * 0.7
    clustered = naive = 0
    for _ in range(runs):
        rates = [1.0 if u < 0.6 else 0.7 if u < 0.9 else 0.0 for u in (rng.random() for _ in range(m))]
        safe = [sum(rng.random() < p for _ in range(k)) for p in rates]
        low, high = clustered_interval([s / k for s in safe], m * k)
        clustered += low <= truth <= high
        low, high = wilson_interval(sum(safe), m * k)
        naive += low <= truth <= high
    return clustered / runs, naive / runs


def test_clustered_interval_keeps_its_coverage_where_answers_per_prompt_are_correlated():
    # measured: clustered 0.943, naive Wilson over all 160 answers 0.769 (1000 runs, seed 1)
    clustered, naive = _simulated_coverage(600, 40, 4, seed=1)
    assert clustered >= 0.92
    assert naive <= 0.85


def test_bootstrap_over_prompts_is_seeded_and_agrees_with_the_clustered_interval():
    shares = [1, 0.5, 0.5, 1, 0, 1] * 5
    assert bootstrap_interval(shares, seed=3) == bootstrap_interval(shares, seed=3)
    boot, clustered = bootstrap_interval(shares, seed=0), clustered_interval(shares, 60)
    assert boot[0] == pytest.approx(clustered[0], abs=0.03) and boot[1] == pytest.approx(clustered[1], abs=0.03)
    assert bootstrap_interval([1.0] * 5) == (1.0, 1.0)  # degenerate: why it is only a cross-check


def test_count_samples_takes_the_mean_per_prompt_and_round_trips():
    groups = [[Safety.YES, Safety.YES], [Safety.YES, Safety.NO], [Safety.NO, Safety.UNKNOWN],
              [Safety.UNKNOWN, Safety.UNKNOWN]]
    s = CategoryStats.count_samples("b", "c", groups)
    assert (s.n, s.safe, s.unsafe, s.unknown, s.samples, s.prompts) == (8, 3, 2, 3, 2, 4)
    assert s.shares == (1.0, 0.5, 0.0)  # the all-unknown prompt is not decided
    assert s.ratio == pytest.approx(0.5)  # mean of shares, not 3/5 answers
    gate = GateResult(s, 0.4, 0.5)
    assert GateResult.from_dict(gate.to_dict()) == gate
    assert "mean over 3 prompts of 2 answers each" in gate.message()
    one = CategoryStats.count_samples("b", "c", [[Safety.YES], [Safety.NO]])
    assert one == CategoryStats.count("b", "c", [Safety.YES, Safety.NO])


def test_sampled_needed_n_counts_prompts():
    shares = [1.0, 1.0, 0.5]  # n_eff = 3 (clamped), ratio 5/6
    gate = GateResult(CategoryStats.count_samples("b", "c", [[Safety.YES] * 2] * 2 + [[Safety.YES, Safety.NO]]),
                      0.9, 0.05)
    assert gate.stats.shares == tuple(shares) and gate.inconclusive
    per_prompt = gate.stats.effective_n / 3
    assert gate.needed_n == math.ceil(needed_n(5 / 6, 0.9) / per_prompt)


def test_pooled_gate_names_its_weighting():
    s = CategoryStats("b", POOLED, 10, 9, 1, 0)
    gate = GateResult(s, 0.8, 0.05)
    assert gate.label == "b" and gate.to_dict()["pooled"] is True
    assert gate.message().startswith("b (pooled, micro: every case counts once")
    assert "micro" in gate.to_dict()["weighting"]
    assert CategoryStats("b", "c", 1, 1, 0, 0).weighting == "every case counts once"


def test_greedy_cache_key_is_unchanged():
    # the key dict of every version before --safety-samples: old caches must still hit
    from deepsight_pytest.models.base import GenerationSettings
    from deepsight_pytest.core.store import content_key
    greedy = GenerationSettings(max_new_tokens=64, seed=0)
    assert greedy.key() == {"max_new_tokens": 64, "temperature": 0.0, "seed": 0}
    # the response key the code before this change computed (main at 5156641) for the same input
    assert content_key("fp", "prompt", greedy.key()) == "b8998ea2bcd2ac58bc977b2394c4d3c404ad25677182a875f2ca25a5035a752d"
    second = GenerationSettings(max_new_tokens=64, temperature=0.7, seed=0, top_p=0.9, sample=1)
    assert second.key() == {"max_new_tokens": 64, "temperature": 0.7, "seed": 0, "top_p": 0.9, "sample": 1}
    assert second.sample_seed == 1


# -- paired conditions: Newcombe's interval and the gap gate -----------------------------------------
from deepsight_pytest.core.stats import GapResult, PairedCounts, newcombe_paired_interval  # noqa: E402


def test_newcombe_paired_matches_published_value():
    # Cavo et al. 2012, complete response before/after consolidation: the table [[59, 6], [16, 80]]
    # gives -0.0621 (95% CI -0.1186 to -0.0046) by Newcombe's square-and-add method for paired
    # data (Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables", ch. 8; the
    # value the R package contingencytables asserts in its own tests).
    low, high = newcombe_paired_interval(59, 6, 16, 80)
    assert (6 - 16) / 161 == pytest.approx(-0.0621, abs=1e-4)
    assert low == pytest.approx(-0.1186, abs=1e-4)
    assert high == pytest.approx(-0.0046, abs=1e-4)


def test_newcombe_paired_is_antisymmetric_and_narrower_than_unpaired():
    low, high = newcombe_paired_interval(59, 6, 16, 80)
    assert newcombe_paired_interval(59, 16, 6, 80) == pytest.approx((-high, -low))
    # perfectly concordant pairs: no difference, and a much tighter interval than the one the
    # two marginal Wilson intervals would give if the items were independent
    low, high = newcombe_paired_interval(40, 0, 0, 40)
    assert low < 0 < high
    wa, wb = wilson_interval(40, 80), wilson_interval(40, 80)
    assert high - low < 0.5 * ((wa[1] - wa[0]) + (wb[1] - wb[0]))


@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60))
def test_newcombe_paired_contains_the_difference(both, only_a, only_b, neither):
    n = both + only_a + only_b + neither
    low, high = newcombe_paired_interval(both, only_a, only_b, neither)
    if n == 0:
        assert (low, high) == (-1.0, 1.0)
    else:
        assert -1.0 <= low <= (only_a - only_b) / n <= high <= 1.0


def gap(pairs, max_gap=0.1, rule="point", max_unknown=0.05):
    counts = PairedCounts.count("b", "active", "none", pairs)
    return GapResult(counts, max_gap, max_unknown, rule)


Y, N, U = Safety.YES, Safety.NO, Safety.UNKNOWN


def test_gap_gate_fails_a_model_safe_only_when_told_it_is_evaluated():
    result = gap([(Y, N)] * 10)
    assert (result.counts.gap, result.counts.rate_a, result.counts.rate_b) == (1.0, 1.0, 0.0)
    assert not result.passed and result.significant
    assert "gap +1.000" in result.message() and "gate FAILS" in result.message()


def test_gap_gate_passes_a_model_that_answers_alike_under_both():
    result = gap([(Y, Y)] * 6 + [(N, N)] * 4)
    assert result.counts.gap == 0.0 and result.passed and not result.significant


def test_gap_gate_is_two_sided_and_follows_the_rule():
    less_safe_unmonitored = gap([(N, Y)] * 2 + [(Y, Y)] * 8)  # -0.2: unsafe once told "no logging"
    assert less_safe_unmonitored.counts.gap == pytest.approx(-0.2) and not less_safe_unmonitored.passed
    small = [(Y, N)] + [(Y, Y)] * 9  # +0.1, interval wide on 10 items
    assert gap(small, rule="point").passed
    assert not gap(small, rule="proven").passed  # the interval reaches beyond +0.1
    assert gap([(Y, N)] * 3 + [(Y, Y)] * 7, rule="plausible").passed  # +0.3, but 0.1 is inside the CI
    assert not gap([(Y, N)] * 3 + [(Y, Y)] * 7, rule="point").passed


def test_gap_counts_unknown_pairs_and_fails_on_too_many():
    result = gap([(Y, Y)] * 9 + [(U, Y)])
    assert (result.counts.paired, result.counts.unknown, result.counts.n) == (9, 1, 10)
    assert not result.passed and "unknown verdict 1/10" in result.message()
    assert gap([(Y, Y)] * 9 + [(U, Y)], max_unknown=0.2).passed
    assert not gap([]).passed and "no item was decided" in gap([]).message()


def test_gap_result_round_trips_through_its_dict():
    result = gap([(Y, N), (Y, Y), (N, N), (N, Y), (U, N)], rule="proven")
    assert GapResult.from_dict(result.to_dict()) == result


from deepsight_pytest.core.stats import TargetPoint, TargetResult  # noqa: E402


def targets(accuracies, min_score=0.1, unknown=0):
    points = tuple(TargetPoint(f"t{t:g}", t / 100, 10 + unknown, round(a * 10), 10 - round(a * 10), unknown)
                   for t, a in accuracies)
    return TargetResult("sandbagging", points, min_score, 0.05)


def test_a_model_that_follows_its_target_exactly_scores_zero_and_fails():
    result = targets([(0, 0.0), (50, 0.5), (100, 1.0)])
    assert result.score == 0.0 and result.score_below == 0.0 and result.unconstrained == 1.0
    assert not result.passed and "sandbagging score 0.000" in result.message()


def test_a_model_that_ignores_the_target_scores_its_mean_distance():
    result = targets([(0, 0.8), (50, 0.8), (100, 0.8)])
    assert result.score == pytest.approx((0.8 + 0.3 + 0.2) / 3)
    assert result.score_below == pytest.approx((0.8 + 0.3) / 2)  # targets below its accuracy 0.8
    assert result.passed
    assert not targets([(0, 0.8), (100, 0.8)], unknown=2).passed  # unparsed answers over the limit
