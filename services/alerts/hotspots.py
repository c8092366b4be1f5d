"""The hot-spot rule (SPEC §6), as pure functions: a Poisson tail test of the last 24 h against a baseline.

Per (community, top-level category) the scan counts the requests received in the current 24 h
window and compares the count with λ, the daily mean of the 28 days before the window:

* the count must reach `MIN_COUNT` (5), or `MIN_COUNT_KEY_GROUP` (3) for key-group matters
  (重点人群利益诉求: land acquisition, pollution, …), and
* P(X ≥ count) for X ~ Poisson(λ) must be below `P_THRESHOLD` (0.001).

A community with no request of that category in the 28 days has a baseline of 0, under which any
request at all would be "infinitely unlikely"; λ is floored at `LAMBDA_FLOOR` = 1/28 per day, as if
one request had come in the 28 days, so a first-ever burst can still alert (5 requests then have
P ≈ 4.7e-10, 3 key-group requests P ≈ 7.4e-6) while the p-value stays a real number.

These numbers are the defaults of the rule settings (`hotspots.*`): the functions take a `HotspotRules`
with the ones in force. A window other than 24 h compares its count with the daily mean scaled to it.
"""

import math

from services.config.schemas import HotspotRules

P_THRESHOLD = 0.001
MIN_COUNT = 5
MIN_COUNT_KEY_GROUP = 3
BASELINE_DAYS = 28
# As if one request had come in the 28 baseline days.
LAMBDA_FLOOR = 1.0 / BASELINE_DAYS
# The numbers above are the defaults; the rule settings (`hotspots.*`, services/config) hold the ones in force.
DEFAULT_RULES = HotspotRules()
HOURS_PER_DAY = 24

# Terms smaller than this fraction of the running sum no longer change a double.
_NEGLIGIBLE = 1e-17
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _stirling_error(n: int) -> float:
    """log(n!) − [(n + ½)·log n − n + ½·log 2π]: what Stirling's formula leaves out, n ≥ 1.

    Small n directly; from 16 on by its asymptotic series 1/12n − 1/360n³ + 1/1260n⁵ − 1/1680n⁷ +
    1/1188n⁹ (the next term is below 1e-16 there).
    """
    if n <= 15:
        return math.lgamma(n + 1) - (n + 0.5) * math.log(n) + n - _HALF_LOG_2PI
    inv_sq = 1.0 / (n * n)
    return (1 / 12 - inv_sq * (1 / 360 - inv_sq * (1 / 1260 - inv_sq * (1 / 1680 - inv_sq / 1188)))) / n


def _deviance(x: int, mean: float) -> float:
    """x·log(x/mean) + mean − x, x ≥ 1, mean > 0, without the cancellation of the direct form.

    Near x = mean it is summed as (x − mean)·v + 2x·(v³/3 + v⁵/5 + …) with v = (x − mean)/(x + mean),
    which follows from log(x/mean) = 2·artanh(v).
    """
    if abs(x - mean) < 0.1 * (x + mean):
        v = (x - mean) / (x + mean)
        total = (x - mean) * v
        power = 2 * x * v
        v_sq = v * v
        odd = 1
        while True:
            power *= v_sq
            odd += 2
            following = total + power / odd
            if following == total:
                return total
            total = following
    return x * math.log(x / mean) + mean - x


def _log_pmf(j: int, lam: float) -> float:
    """log P(X = j) for X ~ Poisson(lam), lam > 0, j ≥ 0.

    In the saddle-point form −½·log(2πj) − stirling_error(j) − deviance(j, lam) (C. Loader, "Fast
    and accurate computation of binomial probabilities", 2000): no large terms cancel, so the
    relative error stays near 1e-13 where the naive j·log(lam) − lam − log(j!) loses ~1e-11 at
    j, lam in the thousands.
    """
    if j == 0:
        return -lam
    return -_HALF_LOG_2PI - 0.5 * math.log(j) - _stirling_error(j) - _deviance(j, lam)


def poisson_upper_tail(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(lam).

    Both tails are summed term by term from the mode side outwards, starting at the term next to
    `k` (computed in log space), so the *smaller* tail is never obtained by cancellation:

    * k > lam: the upper tail itself, P(k) · (1 + lam/(k+1) + lam²/((k+1)(k+2)) + …), each ratio < 1;
    * k ≤ lam: 1 − the lower tail, P(k−1) · (1 + (k−1)/lam + (k−1)(k−2)/lam² + …); here the answer
      is at least about ½ (the median of a Poisson lies within 1 of its mean), so the subtraction
      loses nothing that matters.

    Relative accuracy is close to machine precision for lam up to ~1000 and k up to ~10000 (the
    series needs at most a few hundred terms there); tails below ~1e-308 underflow to 0.0.
    """
    if math.isnan(lam) or lam < 0 or math.isinf(lam):
        raise ValueError(f"lam must be a finite number ≥ 0, not {lam!r}")
    if k <= 0:
        return 1.0
    if lam == 0:
        return 0.0
    if k > lam:
        log_first = _log_pmf(k, lam)
        total, term, j = 1.0, 1.0, k
        while True:
            j += 1
            term *= lam / j
            total += term
            if term < total * _NEGLIGIBLE:
                break
        return min(1.0, math.exp(log_first + math.log(total)))
    # k ≤ lam: the lower tail P(X ≤ k−1), summed downwards from j = k−1 (a finite sum).
    log_first = _log_pmf(k - 1, lam)
    total, term = 1.0, 1.0
    for j in range(k - 1, 0, -1):
        term *= j / lam
        total += term
        if term < total * _NEGLIGIBLE:
            break
    lower = math.exp(log_first + math.log(total))
    return min(1.0, max(0.0, 1.0 - lower))


def min_count(key_group: bool, rules: HotspotRules = DEFAULT_RULES) -> int:
    return rules.key_group_min_count if key_group else rules.min_count


def effective_lambda(baseline_daily_mean: float, rules: HotspotRules = DEFAULT_RULES) -> float:
    """λ the test uses: the baseline daily mean, floored at one request per baseline period (`LAMBDA_FLOOR`
    for 28 days), scaled to the window's length (×1 for the default 24 h)."""
    return max(baseline_daily_mean, 1.0 / rules.baseline_days) * rules.window_hours / HOURS_PER_DAY


def is_hotspot(
    count: int, baseline_daily_mean: float, key_group: bool, rules: HotspotRules = DEFAULT_RULES
) -> tuple[bool, float]:
    """Whether `count` requests in 24 h are a hot spot against the baseline, with the p-value.

    The p-value is P(X ≥ count) under Poisson(max(baseline_daily_mean, 1/28)); it is returned even
    when the count is under the minimum (then the answer is always False).
    """
    if count < 0:
        raise ValueError("count must be ≥ 0")
    if baseline_daily_mean < 0 or not math.isfinite(baseline_daily_mean):
        raise ValueError("baseline_daily_mean must be a finite number ≥ 0")
    p_value = poisson_upper_tail(count, effective_lambda(baseline_daily_mean, rules))
    return count >= min_count(key_group, rules) and p_value < rules.p_value, p_value
