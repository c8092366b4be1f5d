"""The hot-spot rule as pure functions: the Poisson upper tail P(X ≥ k) and the alert decision.

References are computed independently: small cases by hand (written out in the comments), larger
ones by summing the probability mass function with 60-digit `decimal` arithmetic.
"""

import math
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.hotspots import (
    LAMBDA_FLOOR,
    P_THRESHOLD,
    effective_lambda,
    is_hotspot,
    min_count,
    poisson_upper_tail,
)

pytestmark = pytest.mark.pure  # no database, no Redis


PROPERTY = settings(max_examples=300, deadline=None)
lambdas = st.floats(min_value=1e-6, max_value=1000.0, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10_000)


def decimal_upper_tail(k: int, lam: float) -> Decimal:
    """P(X ≥ k) = Σ_{j ≥ k} e^-λ λ^j / j!, summed with 60 significant digits (lam taken exactly)."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact_lam = Decimal(lam)
        term = (-exact_lam).exp()
        for j in range(1, k + 1):
            term = term * exact_lam / j
        total, j = Decimal(0), k
        while True:
            total += term
            j += 1
            term = term * exact_lam / j
            if term < total * Decimal("1e-40"):
                return total


# ---- hand-computed values -----------------------------------------------------------------------------------


def test_tail_at_zero_is_one_whatever_lambda():
    assert poisson_upper_tail(0, 0.0) == 1.0
    assert poisson_upper_tail(0, 3.7) == 1.0
    assert poisson_upper_tail(-2, 3.7) == 1.0


def test_zero_lambda_gives_no_chance_of_any_request():
    assert poisson_upper_tail(1, 0.0) == 0.0


def test_small_tails_match_hand_sums():
    # P(X ≥ 1 | λ) = 1 − e^-λ
    assert poisson_upper_tail(1, 0.5) == pytest.approx(1 - math.exp(-0.5), rel=1e-14)
    # P(X ≥ 2 | 1) = 1 − e^-1 (1 + 1) = 1 − 2/e ≈ 0.2642411177
    assert poisson_upper_tail(2, 1.0) == pytest.approx(0.26424111765711533, rel=1e-14)
    # P(X ≥ 3 | 2) = 1 − e^-2 (1 + 2 + 2) = 1 − 5 e^-2 ≈ 0.3233235838
    assert poisson_upper_tail(3, 2.0) == pytest.approx(0.3233235838169365, rel=1e-14)
    # P(X ≥ 6 | 5) = 1 − e^-5 (1 + 5 + 12.5 + 20.8333 + 26.0417 + 26.0417) = 1 − 91.4167 e^-5 ≈ 0.3840393
    assert poisson_upper_tail(6, 5.0) == pytest.approx(0.38403934516693683, rel=1e-13)


def test_tiny_tails_keep_their_relative_accuracy():
    # λ = 1/28: P(X ≥ 6) = e^-λ λ^6/6! (1 + λ/7 + λ²/56 + …) = 0.964917 × 2.88211e-12 × 1.0051 ≈ 2.79530e-12.
    # The naive 1 − Σ_{j<6} loses the digits here (it gives 2.79532e-12).
    assert poisson_upper_tail(6, 1 / 28) == pytest.approx(2.7953026349e-12, rel=1e-10)
    # P(X ≥ 3 | 1/28) = e^-λ λ³/6 (1 + λ/4 + λ²/20 + …) ≈ 7.39183e-06
    assert poisson_upper_tail(3, 1 / 28) == pytest.approx(7.3918334813e-06, rel=1e-10)
    # Far tail: P(X ≥ 50 | 1) ≈ e^-1/50! (1 + 1/51 + …) ≈ 1.2e-65, still a positive double.
    assert poisson_upper_tail(50, 1.0) == pytest.approx(float(decimal_upper_tail(50, 1.0)), rel=1e-12)


@pytest.mark.parametrize(
    ("k", "lam"),
    [
        (1100, 1000.0),  # ~ 3.1 σ above the mean: ≈ 9.6e-4
        (1000, 1000.0),  # at the mean: ≈ 0.504
        (999, 1000.0),
        (900, 1000.0),  # below the mean: ≈ 0.99938, taken as 1 − the lower tail
        (1500, 1000.0),  # ≈ 3.2e-49
        (10_000, 9000.0),  # ≈ 2.07e-25
        (10_000, 8000.0),  # ≈ 6.1e-103
        (5, 1e-3),
        (17, 17.3),
    ],
)
def test_large_arguments_match_a_high_precision_sum(k, lam):
    expected = decimal_upper_tail(k, lam)
    assert poisson_upper_tail(k, lam) == pytest.approx(float(expected), rel=1e-12)


def test_tails_beyond_double_range_underflow_to_zero():
    # P(X ≥ 10000 | 1000) ≈ e^-14000: below the smallest double.
    assert poisson_upper_tail(10_000, 1000.0) == 0.0


def test_lambda_must_be_a_finite_non_negative_number():
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            poisson_upper_tail(3, bad)


# ---- properties ---------------------------------------------------------------------------------------------


@PROPERTY
@given(k=counts, lam=lambdas)
def test_tail_is_a_probability(k, lam):
    assert 0.0 <= poisson_upper_tail(k, lam) <= 1.0


@PROPERTY
@given(k=counts, lam=lambdas)
def test_tail_decreases_as_k_grows(k, lam):
    # Non-increasing in exact arithmetic; 1e-12 relative allows for rounding where neighbours nearly tie.
    assert poisson_upper_tail(k + 1, lam) <= poisson_upper_tail(k, lam) * (1 + 1e-12)


@PROPERTY
@given(k=counts, lam=lambdas, factor=st.floats(min_value=1.0, max_value=4.0))
def test_tail_grows_with_lambda(k, lam, factor):
    assert poisson_upper_tail(k, lam * factor) >= poisson_upper_tail(k, lam) * (1 - 1e-12)


@PROPERTY
@given(k=st.integers(min_value=0, max_value=40), lam=st.floats(min_value=0.01, max_value=30.0))
def test_tail_matches_the_exact_sum_for_small_values(k, lam):
    expected = float(decimal_upper_tail(k, lam))
    assert poisson_upper_tail(k, lam) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@PROPERTY
@given(k=st.integers(min_value=1, max_value=60), lam=st.floats(min_value=0.01, max_value=30.0))
def test_tail_minus_next_tail_is_the_probability_of_k(k, lam):
    # P(X ≥ k) − P(X ≥ k+1) = P(X = k) = e^-λ λ^k / k!
    pmf = math.exp(k * math.log(lam) - lam - math.lgamma(k + 1))
    difference = poisson_upper_tail(k, lam) - poisson_upper_tail(k + 1, lam)
    assert difference == pytest.approx(pmf, rel=1e-9, abs=1e-15)


# ---- the alert rule -----------------------------------------------------------------------------------------


def test_six_requests_against_a_quiet_baseline_are_a_hot_spot():
    # Baseline 0 → λ = 1/28; P(X ≥ 6) ≈ 2.8e-12 < 0.001 and 6 ≥ 5.
    hot, p_value = is_hotspot(6, 0.0, key_group=False)
    assert hot
    assert p_value == pytest.approx(2.7953026349e-12, rel=1e-10)


def test_four_ordinary_requests_are_too_few_however_unlikely():
    # P(X ≥ 4 | 1/28) = λ⁴/24 e^-λ (1 + λ/5 + …) ≈ 6.59e-08, tiny, but 4 < 5.
    hot, p_value = is_hotspot(4, 0.0, key_group=False)
    assert not hot
    assert p_value == pytest.approx(6.588e-08, rel=1e-3)


def test_three_key_group_requests_are_enough():
    # P(X ≥ 3 | 1/28) ≈ 7.39e-06 < 0.001, and the key-group threshold is 3.
    hot, p_value = is_hotspot(3, 0.0, key_group=True)
    assert hot
    assert p_value == pytest.approx(7.3918334813e-06, rel=1e-10)
    assert not is_hotspot(2, 0.0, key_group=True)[0]


def test_a_busy_baseline_absorbs_the_same_count():
    # λ = 5/day: P(X ≥ 6) ≈ 0.384, nowhere near 0.001.
    hot, p_value = is_hotspot(6, 5.0, key_group=False)
    assert not hot
    assert p_value == pytest.approx(0.38403934516693683, rel=1e-12)


def test_the_threshold_is_strict():
    # λ = 1000/day: P(X ≥ 1100) ≈ 9.63e-4 < 0.001 → hot; P(X ≥ 1099) ≈ 1.07e-3 → not.
    assert is_hotspot(1100, 1000.0, key_group=False)[0]
    hot, p_value = is_hotspot(1099, 1000.0, key_group=False)
    assert not hot
    assert p_value > P_THRESHOLD


def test_lambda_is_floored_at_one_request_in_28_days():
    assert effective_lambda(0.0) == LAMBDA_FLOOR == 1 / 28
    assert effective_lambda(0.5) == 0.5
    assert min_count(True) == 3
    assert min_count(False) == 5


@PROPERTY
@given(count=st.integers(min_value=0, max_value=2000), mean=st.floats(min_value=0.0, max_value=1000.0))
def test_a_hot_spot_always_has_enough_requests_and_a_small_p_value(count, mean):
    for key_group in (False, True):
        hot, p_value = is_hotspot(count, mean, key_group)
        assert hot == (count >= (3 if key_group else 5) and p_value < 0.001)
