"""The statistics of scoring (SPEC §7.3), as plain functions with no I/O.

* Wilson score interval for a proportion, with fractional successes allowed (satisfaction points).
* Empirical-Bayes shrinkage: a beta prior fitted over the units of one level by the standard beta-binomial
  moment estimator (Kleinman 1973), or a fixed prior of given strength at the level mean when too few units
  have data; a unit's shrunk rate is its posterior mean, and a unit with no data has none.
* Case-mix adjustment: observed − expected (from city-wide per-category baselines) + city mean.
* Weighted means over components that may be missing, with the weights renormalised.

Every function is deterministic: the same inputs in the same order give the same float, bit for bit,
which is what lets a stored score be recomputed to the same value.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist
from typing import Literal


def z_for(confidence: float) -> float:
    """The two-sided standard-normal quantile for a confidence level (0.95 → 1.959963984540054)."""
    return NormalDist().inv_cdf((1 + confidence) / 2)


def wilson_interval(successes: float, n: int, z: float) -> tuple[float, float] | None:
    """Wilson score interval for `successes` out of `n` (successes may be fractional).

    The interval is the set of p with (p̂ − p)² ≤ z² p(1 − p) / n, so it always holds p̂; the
    clamp below only repairs floating-point rounding at the edges.
    """
    if n <= 0:
        return None
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = min(max(centre - half, 0.0), p)
    high = max(min(centre + half, 1.0), p)
    return low, high


@dataclass(frozen=True, slots=True)
class BetaPrior:
    """A beta prior written as its mean and strength (α + β): α = mean·strength, β = (1 − mean)·strength."""

    mean: float
    strength: float
    method: Literal["moments", "fallback"]
    units: int  # units with data the prior was fitted on


def fit_prior(
    observations: Sequence[tuple[float, int]],
    *,
    min_units: int = 5,
    fallback_strength: float = 10.0,
    min_strength: float = 1.0,
    max_strength: float = 10_000.0,
) -> BetaPrior | None:
    """Fit a beta prior to (successes, n) pairs of the units of one level; units with n = 0 are ignored.

    The standard beta-binomial moment estimator with the mean estimated from the same units: Kleinman,
    J. C. (1973), "Proportions with extraneous variance: single and independent samples", JASA 68(341),
    46–54, with weights wᵢ = nᵢ. With k units of sizes nᵢ and proportions pᵢ = xᵢ/nᵢ, N = Σnᵢ,

        μ̂ = Σ nᵢpᵢ / N,        S = Σ nᵢ (pᵢ − μ̂)²,

    and, as pᵢ has variance μ(1−μ)[1 + (nᵢ−1)ρ]/nᵢ with ρ = 1/(α+β+1) the intra-unit correlation,

        E[S] = μ(1−μ) [ (k − 1)(1 − ρ) + (N − Σnᵢ²/N) ρ ]

    (the k − 1 and N − Σnᵢ²/N, not k and N, are what estimating μ from the same units costs). Solving
    with μ̂ for μ:

        ρ̂ = (S / (μ̂(1−μ̂)) − (k − 1)) / (N − Σnᵢ²/N − (k − 1)),    strength α+β = 1/ρ̂ − 1,

    kept within [min_strength, max_strength]. ρ̂ ≤ 0 (S no larger than chance alone gives: no spread
    between units to explain) is Kleinman's truncation at 0, the pooled mean for everyone: the strongest
    allowed prior. Fewer than `min_units` units with data: a fixed prior of `fallback_strength` at the
    pooled mean. No data at all: None.

    Sums are exact (math.fsum), so the prior does not depend on the order of the units, bit for bit.
    """
    data = [(x, n) for x, n in observations if n > 0]
    if not data:
        return None
    total_n = math.fsum(n for _, n in data)
    mean = math.fsum(x for x, _ in data) / total_n
    mean = min(max(mean, 0.0), 1.0)
    k = len(data)
    if k < min_units:
        return BetaPrior(mean, fallback_strength, "fallback", k)
    spread = mean * (1 - mean)
    if spread <= 0.0:
        # Every unit at 0 or every unit at 1: nothing to tell apart.
        return BetaPrior(mean, max_strength, "moments", k)
    # N − Σnᵢ²/N − (k − 1) = Σ (nᵢ − 1)(1 − nᵢ/N): zero only when every unit has n = 1 (ρ is then not
    # identifiable: a single Bernoulli trial per unit says nothing about spread between units).
    room = math.fsum((n - 1) * (1 - n / total_n) for _, n in data)
    if room <= 0.0:
        return BetaPrior(mean, fallback_strength, "moments", k)
    between = math.fsum(n * (x / n - mean) ** 2 for x, n in data)
    rho = (between / spread - (k - 1)) / room
    strength = max_strength if rho <= 0.0 else 1 / rho - 1
    return BetaPrior(mean, min(max(strength, min_strength), max_strength), "moments", k)


def shrink(successes: float, n: int, prior: BetaPrior) -> float | None:
    """Posterior mean (successes + α) / (n + α + β), written as a convex mix of raw rate and prior mean.

    No data (n = 0): None, never the prior mean (SPEC §12: the prior does not stand in for missing data).
    The clamp keeps it between the two even where floating-point rounding would step outside.
    """
    if n <= 0:
        return None
    raw = successes / n
    weight = data_weight(n, prior)
    value = prior.mean + weight * (raw - prior.mean)
    return min(max(value, min(raw, prior.mean)), max(raw, prior.mean))


def data_weight(n: int, prior: BetaPrior) -> float:
    """How much of a shrunk rate is the unit's own data: n / (n + α + β); the rest, (α+β)/(n+α+β), is prior."""
    return n / (n + prior.strength) if n > 0 else 0.0


@lru_cache(maxsize=64)
def _exact_points(points: tuple[float, ...]) -> tuple[tuple[int, ...], int]:
    """Points as integers over one common denominator (floats are dyadic, so it is a power of two)."""
    fractions = [Fraction(p) for p in points]
    denominator = math.lcm(*(f.denominator for f in fractions))
    return tuple(int(f * denominator) for f in fractions), denominator


def satisfaction_points(counts: Sequence[int], points: Sequence[float]) -> float:
    """Σ points over the ratings (counts and points per level: satisfied, basically, dissatisfied)."""
    numerators, denominator = _exact_points(tuple(points))
    return sum(c * k for c, k in zip(counts, numerators, strict=True)) / denominator


def satisfaction_rate(counts: Sequence[int], points: Sequence[float]) -> float | None:
    """Σ points / ratings, computed exactly in integers and rounded once (Python's int / int is correctly
    rounded), so adding a top rating can never lower it."""
    n = sum(counts)
    if n <= 0:
        return None
    numerators, denominator = _exact_points(tuple(points))
    return sum(c * k for c, k in zip(counts, numerators, strict=True)) / (denominator * n)


def category_baselines(totals: Mapping[str, tuple[float, int]]) -> dict[str, float]:
    """City-wide rate per category: successes / n for each category with n > 0."""
    return {category: x / n for category, (x, n) in totals.items() if n > 0}


def expected_rate(mix: Iterable[tuple[str, int]], baselines: Mapping[str, float]) -> float | None:
    """Σ n_c · baseline_c / Σ n_c: what the unit would score with the city's per-category rates.

    The sum runs in the order of `mix`; give it in a fixed order (by category) for the same float every time.
    """
    total = 0
    weighted = 0.0
    for category, n in mix:
        if n > 0 and category in baselines:
            total += n
            weighted += n * baselines[category]
    return weighted / total if total > 0 else None


def case_mix_adjusted(observed: float | None, expected: float | None, city_mean: float | None) -> float | None:
    """observed − expected + city mean: the unit's rate with its mix of categories taken out."""
    if observed is None or expected is None or city_mean is None:
        return None
    return observed - expected + city_mean


def renormalised_mean(
    components: Mapping[str, float | None], weights: Mapping[str, float]
) -> tuple[float | None, dict[str, float], list[str]]:
    """Σ w_i x_i / Σ w_i over the components present: (value, weights used, missing component names)."""
    present = {name: value for name, value in components.items() if value is not None}
    missing = [name for name in components if components[name] is None]
    total = sum(weights[name] for name in present)
    if not present or total <= 0:
        return None, {}, missing
    used = {name: weights[name] / total for name in present}
    value = sum(used[name] * present[name] for name in present)
    return value, used, missing
