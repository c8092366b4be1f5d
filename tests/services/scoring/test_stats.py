"""The statistics of scoring: hand-computed values, and properties hypothesis hammers."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.periods import parse_period
from services.scoring.stats import (
    case_mix_adjusted,
    category_baselines,
    data_weight,
    expected_rate,
    fit_prior,
    renormalised_mean,
    satisfaction_rate,
    shrink,
    wilson_interval,
    z_for,
)
from shared.errors import InvalidInput

settings.register_profile("scoring-stats", max_examples=300, deadline=None, derandomize=True, database=None)
PROFILE = settings.get_profile("scoring-stats")
Z = z_for(0.95)
POINTS = (1.0, 0.8, 0.0)


def test_z_for_95_percent():
    assert pytest.approx(1.959964, abs=1e-6) == Z


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.959964: centre = (0.8 + z²/20) / (1 + z²/10) = (0.8 + 0.192073) / 1.384146 = 0.716732;
    # half = z / 1.384146 × √(0.8·0.2/10 + z²/400) = 1.416009 × √(0.016 + 0.009604) = 1.416009 × 0.160012 = 0.226578
    interval = wilson_interval(8, 10, Z)
    assert interval is not None
    low, high = interval
    assert low == pytest.approx(0.716732 - 0.226578, abs=1e-5)
    assert high == pytest.approx(0.716732 + 0.226578, abs=1e-5)
    assert wilson_interval(0, 0, Z) is None


def test_wilson_interval_at_the_edges_still_holds_the_rate():
    none = wilson_interval(0, 5, Z)
    every = wilson_interval(5, 5, Z)
    assert none is not None and every is not None
    assert none[0] == 0.0 and none[1] == pytest.approx(0.4345, abs=1e-4)
    assert every[0] == pytest.approx(0.5655, abs=1e-4) and every[1] == 1.0


def test_method_of_moments_prior_by_hand():
    # Kleinman's (1973) estimator (SPEC §12; docs/scoring.md). Five units, 10 each: rates 0.2, 0.4, 0.6, 0.8,
    # 1.0 → pooled mean μ̂ = 30/50 = 0.6. S = Σ 10 (p − 0.6)² = 10 × (0.16 + 0.04 + 0 + 0.04 + 0.16) = 4;
    # μ̂(1 − μ̂) = 0.24 → S/μ̂(1 − μ̂) = 50/3; N − Σn²/N = 50 − 500/50 = 40; k − 1 = 4.
    # ρ = (50/3 − 4) / (40 − 4) = 19/54; strength = 54/19 − 1 = 35/19 ≈ 1.84 (the simplified formula this
    # replaces, which ignored that μ is estimated from the same units, gave 20/7 ≈ 2.86).
    prior = fit_prior([(2, 10), (4, 10), (6, 10), (8, 10), (10, 10)])
    assert prior is not None
    assert prior.mean == pytest.approx(0.6)
    assert prior.strength == pytest.approx(35 / 19)
    assert (prior.method, prior.units) == ("moments", 5)


def _simulate(seed: int, units: int, mean: float, strength: float, low: int, high: int):
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(seed)
    n = rng.integers(low, high, size=units)
    p = rng.beta(mean * strength, (1 - mean) * strength, size=units)
    return rng.binomial(n, p), n


def _maximum_likelihood(x, n) -> tuple[float, float]:
    """(mean, α + β) maximising the beta-binomial likelihood: an estimator independent of the moment one."""
    np = pytest.importorskip("numpy")
    optimize = pytest.importorskip("scipy.optimize")
    special = pytest.importorskip("scipy.special")
    stats = pytest.importorskip("scipy.stats")

    def negative_log_likelihood(theta):
        mean, strength = special.expit(theta[0]), np.exp(theta[1])
        return -stats.betabinom.logpmf(x, n, mean * strength, (1 - mean) * strength).sum()

    fit = optimize.minimize(
        negative_log_likelihood, [0.0, np.log(10.0)], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10}
    )
    assert fit.success
    return float(special.expit(fit.x[0])), float(np.exp(fit.x[1]))


@pytest.mark.parametrize(
    ("seed", "mean", "strength", "low", "high"),
    [(0, 0.8, 20.0, 5, 400), (1, 0.8, 20.0, 5, 400), (2, 0.6, 5.0, 2, 60), (3, 0.9, 50.0, 20, 2000)],
)
def test_moment_prior_lands_near_the_maximum_likelihood_fit(seed, mean, strength, low, high):
    # 400 simulated units of unequal sizes drawn from a known beta prior: the moment estimate must land near
    # scipy's maximum-likelihood fit of the beta-binomial to the same data (and both near the truth).
    x, n = _simulate(seed, 400, mean, strength, low, high)
    ml_mean, ml_strength = _maximum_likelihood(x, n)
    prior = fit_prior(list(zip(x.astype(float).tolist(), n.tolist(), strict=True)), max_strength=1e6)
    assert prior is not None and prior.method == "moments"
    assert prior.mean == pytest.approx(ml_mean, abs=0.01)
    assert prior.strength == pytest.approx(ml_strength, rel=0.15)
    assert prior.strength == pytest.approx(strength, rel=0.2)


def test_few_units_are_not_over_shrunk_on_average():
    # Five units (the size of a district level) of 400, 250, 150, 100 and 60, 4,000 simulated cities from a
    # prior of strength 20 (ρ = 1/21 ≈ 0.0476): the mean moment estimate of ρ is near the truth (0.0473 with
    # this seed). The simplified formula this replaces averaged ρ ≈ 0.033 on the same draws (strength ≈ 29
    # instead of 20): a prior far too strong exactly for the levels that are ranked in public.
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(7)
    sizes = np.array([400, 250, 150, 100, 60])
    rhos = []
    for _ in range(4000):
        p = rng.beta(0.8 * 20, 0.2 * 20, size=5)
        x = rng.binomial(sizes, p)
        prior = fit_prior(
            list(zip(x.astype(float).tolist(), sizes.tolist(), strict=True)), min_strength=1e-6, max_strength=1e9
        )
        assert prior is not None
        rhos.append(1 / (prior.strength + 1))
    assert float(np.mean(rhos)) == pytest.approx(1 / 21, rel=0.1)


def test_fewer_than_five_units_take_a_fixed_prior_of_strength_ten():
    prior = fit_prior([(9, 10), (1, 2)], min_units=5, fallback_strength=10)
    # Pooled mean (9 + 1) / (10 + 2) = 10/12.
    assert prior is not None
    assert prior.mean == pytest.approx(10 / 12)
    assert (prior.strength, prior.method, prior.units) == (10.0, "fallback", 2)
    # A unit with 2 ratings at 1/2 moves most of the way to the mean: (1 + 10·10/12) / (2 + 10) = 0.777…
    assert shrink(1, 2, prior) == pytest.approx((1 + 100 / 12) / 12)


def test_no_spread_beyond_chance_gives_the_strongest_prior():
    prior = fit_prior([(5, 10)] * 6, max_strength=10_000)
    assert prior is not None and prior.strength == 10_000
    assert fit_prior([]) is None
    assert fit_prior([(0, 0), (0, 0)]) is None


def test_case_mix_by_hand():
    # City: noise 90 of 100 (0.9), demolition 10 of 50 (0.2); city mean 100/150.
    baselines = category_baselines({"env.noise": (90, 100), "housing.demolition": (10, 50)})
    # A unit with 10 noise and 10 demolition cases expects (10·0.9 + 10·0.2) / 20 = 0.55.
    expected = expected_rate([("env.noise", 10), ("housing.demolition", 10)], baselines)
    assert expected == pytest.approx(0.55)
    # Observed 0.6 → adjusted 0.6 − 0.55 + 0.6667 = 0.7167: better than its hard mix would predict.
    assert case_mix_adjusted(0.6, expected, 100 / 150) == pytest.approx(0.6 - 0.55 + 100 / 150)


def test_renormalised_mean_flags_missing_components():
    value, used, missing = renormalised_mean(
        {"residents": 90.0, "resident_organisations": None, "public_opinion": 80.0},
        {"residents": 0.6, "resident_organisations": 0.2, "public_opinion": 0.2},
    )
    # 0.6 and 0.2 renormalise to 0.75 and 0.25: 0.75·90 + 0.25·80 = 87.5.
    assert value == pytest.approx(87.5)
    assert used == {"residents": pytest.approx(0.75), "public_opinion": pytest.approx(0.25)}
    assert missing == ["resident_organisations"]


def test_periods_are_bounded_in_shanghai_time():
    month = parse_period("2026-03")
    assert month.start.isoformat() == "2026-02-28T16:00:00+00:00"
    assert month.end.isoformat() == "2026-03-31T16:00:00+00:00"
    quarter = parse_period("2026-Q4")
    assert [m.text for m in quarter.months()] == ["2026-10", "2026-11", "2026-12"]
    assert quarter.end.isoformat() == "2026-12-31T16:00:00+00:00"
    assert len(parse_period("2026").months()) == 12
    with pytest.raises(InvalidInput):
        parse_period("2026-13")
    with pytest.raises(InvalidInput):
        parse_period("1999")


# ---- properties ------------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=100_000)
sizes = st.integers(min_value=1, max_value=100_000)


@st.composite
def observations(draw: st.DrawFn) -> list[tuple[float, int]]:
    units = draw(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=1, max_size=40))
    return [(min(x, n), n) for x, n in units]


@PROFILE
@given(data=observations(), x=counts, n=st.integers(min_value=0, max_value=100_000))
def test_shrunk_lies_between_raw_and_prior_mean(data, x, n):
    x = min(x, n)
    prior = fit_prior(data)
    if prior is None:
        return
    value = shrink(x, n, prior)
    if n == 0:
        assert value is None  # no data, no value: the prior never stands in for it (SPEC §12)
        return
    assert value is not None
    raw = x / n
    assert min(raw, prior.mean) <= value <= max(raw, prior.mean)


@PROFILE
@given(s=counts, b=counts, d=counts)
def test_interval_contains_the_raw_value(s, b, d):
    n = s + b + d
    if n == 0:
        return
    successes = s * 1.0 + b * 0.8
    interval = wilson_interval(successes, n, Z)
    assert interval is not None
    low, high = interval
    raw = successes / n
    assert 0.0 <= low <= raw <= high <= 1.0


@PROFILE
@given(x=counts, n=sizes, confidence=st.floats(min_value=0.51, max_value=0.999))
def test_interval_contains_the_raw_value_at_any_confidence(x, n, confidence):
    x = min(x, n)
    interval = wilson_interval(x, n, z_for(confidence))
    assert interval is not None
    assert interval[0] <= x / n <= interval[1]


@PROFILE
@given(s=counts, b=counts, d=counts, points=st.sampled_from([POINTS, (1.0, 0.6, 0.1), (0.9, 0.9, 0.3)]))
def test_adding_a_satisfied_rating_never_lowers_satisfaction(s, b, d, points):
    before = satisfaction_rate((s, b, d), points)
    after = satisfaction_rate((s + 1, b, d), points)
    assert after is not None
    if before is not None:
        assert after >= before
    assert math.isfinite(after)


@PROFILE
@given(s=counts, b=counts, d=counts)
def test_satisfaction_rate_is_exact_points_over_ratings(s, b, d):
    n = s + b + d
    if n == 0:
        assert satisfaction_rate((s, b, d), POINTS) is None
        return
    # 0.8 is not exact in binary: the rate is the exact rational Σ points / n, rounded once.
    from fractions import Fraction

    exact = (s * Fraction(1.0) + b * Fraction(0.8)) / n
    assert satisfaction_rate((s, b, d), POINTS) == float(exact)


@PROFILE
@given(data=observations(), seed=st.randoms(use_true_random=False))
def test_prior_does_not_depend_on_the_order_of_the_units(data, seed):
    shuffled = list(data)
    seed.shuffle(shuffled)
    assert fit_prior(shuffled) == fit_prior(data)


@PROFILE
@given(data=observations())
def test_prior_correlation_lies_in_zero_one_and_strength_in_bounds(data):
    prior = fit_prior(data, min_strength=1.0, max_strength=10_000.0)
    if prior is None:
        assert all(n == 0 for _, n in data)
        return
    assert 0.0 <= prior.mean <= 1.0
    assert 1.0 <= prior.strength <= 10_000.0
    rho = 1 / (prior.strength + 1)
    assert 0.0 < rho <= 1.0
    assert prior.units == sum(1 for _, n in data if n > 0)


@PROFILE
@given(data=observations(), x=counts, n=sizes)
def test_data_and_prior_shares_add_up_to_the_shrunk_value(data, x, n):
    x = min(x, n)
    prior = fit_prior(data)
    if prior is None:
        return
    share = data_weight(n, prior)
    assert 0.0 < share < 1.0
    assert shrink(x, n, prior) == pytest.approx(share * (x / n) + (1 - share) * prior.mean, abs=1e-12)
