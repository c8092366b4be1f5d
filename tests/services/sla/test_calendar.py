"""Working-time arithmetic for SLA deadlines: the official calendar with 调休, office hours, the
Monday–Friday fallback beyond the package's years, admin overrides, and pauses.

Default office hours are 08:30–12:00 and 13:30–17:30 (210 + 240 = 450 minutes a day), Asia/Shanghai.
"""

import time as timer
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sla.calendar import (
    CLOCK_HOURS,
    MAX_SEARCH_DAYS,
    SHANGHAI,
    WORKING_DAYS,
    WORKING_HOURS,
    OfficeHours,
    WorkCalendar,
)

pytestmark = pytest.mark.pure  # no database, no Redis


CAL = WorkCalendar()
NINE_TO_SIX = OfficeHours(((time(9, 0), time(18, 0)),))
PROPERTY = settings(max_examples=150, deadline=None)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# Starts from 2024 to 2028: both years the package knows and fallback years (2027, 2028).
starts = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31, 23, 59), timezones=st.just(SHANGHAI)
)
# Up to 20 working days of minutes.
minutes = st.floats(min_value=0, max_value=20 * 450, allow_nan=False, allow_infinity=False)
units = st.sampled_from([CLOCK_HOURS, WORKING_HOURS, WORKING_DAYS])
working_units = st.sampled_from([WORKING_HOURS, WORKING_DAYS])


@st.composite
def office_hours(draw: st.DrawFn) -> OfficeHours:
    """1–3 sorted, non-overlapping periods on whole minutes, anywhere in the day."""
    count = draw(st.integers(min_value=1, max_value=3))
    marks = sorted(
        draw(st.sets(st.integers(min_value=0, max_value=23 * 60 + 59), min_size=2 * count, max_size=2 * count))
    )
    return OfficeHours(
        tuple((time(a // 60, a % 60), time(b // 60, b % 60)) for a, b in zip(marks[::2], marks[1::2], strict=True))
    )


# ---- office hours -------------------------------------------------------------------------------------


def test_default_office_day_is_450_minutes():
    # 08:30–12:00 is 210 min, 13:30–17:30 is 240 min.
    assert OfficeHours().minutes_per_day == 450
    assert NINE_TO_SIX.minutes_per_day == 540


def test_office_hours_may_touch_but_not_overlap():
    assert OfficeHours(((time(8), time(12)), (time(12), time(17)))).minutes_per_day == 540


@pytest.mark.parametrize(
    "periods",
    [
        (),
        ((time(12), time(8, 30)),),
        ((time(9), time(9)),),
        ((time(13, 30), time(17, 30)), (time(8, 30), time(12))),
        ((time(8, 30), time(12)), (time(11, 30), time(17, 30))),
        ((time(8, 30, 15), time(12)),),
    ],
    ids=["empty", "reversed", "zero-length", "unsorted", "overlapping", "not-whole-minutes"],
)
def test_invalid_office_hours_are_rejected(periods):
    with pytest.raises(ValueError):
        OfficeHours(periods)


# ---- the official calendar (chinese_calendar 1.11.0) -------------------------------------------------


def test_national_day_2025_is_eight_days_off_then_work_resumes():
    # National Day and Mid-Autumn merged: 1–8 October 2025 (Wednesday to Wednesday).
    assert not any(CAL.is_workday(d) for d in days(date(2025, 10, 1), date(2025, 10, 8)))
    assert CAL.is_workday(date(2025, 9, 30))
    assert CAL.is_workday(date(2025, 10, 9))


def test_2025_adjusted_weekends_around_national_day_are_working_days():
    assert date(2025, 9, 28).weekday() == 6  # a Sunday
    assert date(2025, 10, 11).weekday() == 5  # a Saturday
    assert CAL.is_workday(date(2025, 9, 28))
    assert CAL.is_workday(date(2025, 10, 11))
    assert not CAL.is_workday(date(2025, 10, 12))  # the Sunday after stays off


def test_2026_spring_festival_is_nine_days_off_with_two_working_saturdays():
    # chinese_calendar 1.11.0: holidays 15–23 Feb 2026 (Sunday to Monday), make-up days Saturday 14 and
    # Saturday 28 Feb.
    assert not any(CAL.is_workday(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert date(2026, 2, 14).weekday() == 5 and date(2026, 2, 28).weekday() == 5
    assert CAL.is_workday(date(2026, 2, 14))
    assert CAL.is_workday(date(2026, 2, 28))
    assert CAL.is_workday(date(2026, 2, 13))  # the Friday before
    assert CAL.is_workday(date(2026, 2, 24))  # the Tuesday after


def test_2026_new_year_and_national_day_per_the_package():
    assert not any(CAL.is_workday(d) for d in days(date(2026, 1, 1), date(2026, 1, 3)))
    assert CAL.is_workday(date(2026, 1, 4))  # Sunday, adjusted working day
    assert not any(CAL.is_workday(d) for d in days(date(2026, 10, 1), date(2026, 10, 7)))
    assert CAL.is_workday(date(2026, 9, 20))  # Sunday, adjusted
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday, adjusted


def test_a_timezone_aware_datetime_is_judged_by_its_shanghai_date():
    # 2025-09-30 17:00 UTC is 1 October 01:00 in Shanghai: a holiday.
    assert not CAL.is_workday(datetime(2025, 9, 30, 17, 0, tzinfo=UTC))


# ---- worked examples -----------------------------------------------------------------------------------


def test_friday_17_00_plus_two_working_hours_is_monday_10_00():
    # 2025-06-13 is an ordinary Friday: 17:00–17:30 uses 30 min, Monday 16 June 08:30 + 90 min = 10:00.
    start = sh(2025, 6, 13, 17, 0)
    assert start.weekday() == 4
    due = CAL.deadline(start, 2, WORKING_HOURS)
    assert due == sh(2025, 6, 16, 10, 0)
    assert CAL.working_minutes_between(start, due) == 120


def test_friday_afternoon_before_a_holiday_monday_rolls_to_tuesday():
    # Friday 2025-05-30 17:00; Monday 2 June is the Dragon Boat holiday, so Tuesday 08:30 + 90 = 10:00.
    assert not CAL.is_workday(date(2025, 6, 2))
    assert CAL.deadline(sh(2025, 5, 30, 17, 0), 2, WORKING_HOURS) == sh(2025, 6, 3, 10, 0)


def test_seven_working_days_over_national_day_2025_land_after_the_holiday():
    # Tue 30 Sep 09:00: 180 + 240 = 420 of 3150 min. 1–8 Oct off. Thu 9, Fri 10, Sat 11 (调休), Mon 13,
    # Tue 14, Wed 15 = 6 × 450 = 2700 → 3120; Thu 16 Oct 08:30 + 30 = 09:00.
    assert CAL.deadline(sh(2025, 9, 30, 9, 0), 7, WORKING_DAYS) == sh(2025, 10, 16, 9, 0)
    # Without the adjusted Saturday the same request would be due a working day later.
    no_adjusted_saturday = WorkCalendar({date(2025, 10, 11): False})
    assert no_adjusted_saturday.deadline(sh(2025, 9, 30, 9, 0), 7, WORKING_DAYS) == sh(2025, 10, 17, 9, 0)


def test_an_adjusted_working_sunday_counts():
    # Saturday 27 Sep 2025 is off; Sunday 28 Sep is a make-up working day: 08:30 + 60 = 09:30.
    assert CAL.add_working_minutes(sh(2025, 9, 27, 10, 0), 60) == sh(2025, 9, 28, 9, 30)


def test_a_start_in_the_lunch_break_begins_at_13_30():
    # Tuesday 10 June 2025, 12:30.
    assert CAL.add_working_minutes(sh(2025, 6, 10, 12, 30), 0) == sh(2025, 6, 10, 13, 30)
    assert CAL.add_working_minutes(sh(2025, 6, 10, 12, 30), 60) == sh(2025, 6, 10, 14, 30)


def test_a_start_at_22_00_begins_the_next_working_day_at_08_30():
    assert CAL.add_working_minutes(sh(2025, 6, 10, 22, 0), 0) == sh(2025, 6, 11, 8, 30)
    assert CAL.add_working_minutes(sh(2025, 6, 10, 22, 0), 30) == sh(2025, 6, 11, 9, 0)
    # Friday night waits for Monday.
    assert CAL.add_working_minutes(sh(2025, 6, 13, 22, 0), 30) == sh(2025, 6, 16, 9, 0)


def test_a_start_before_office_hours_begins_at_08_30():
    assert CAL.add_working_minutes(sh(2025, 6, 10, 7, 0), 10) == sh(2025, 6, 10, 8, 40)


def test_working_time_that_ends_with_a_period_ends_at_its_close():
    # Monday 08:30 + 210 min is 12:00 (not 13:30); one working day is 17:30 the same day.
    assert CAL.add_working_minutes(sh(2025, 6, 16, 8, 30), 210) == sh(2025, 6, 16, 12, 0)
    assert CAL.deadline(sh(2025, 6, 16, 8, 30), 1, WORKING_DAYS) == sh(2025, 6, 16, 17, 30)
    # Within a period a working day ends at the same time the next working day.
    assert CAL.deadline(sh(2025, 6, 16, 10, 0), 1, WORKING_DAYS) == sh(2025, 6, 17, 10, 0)


def test_clock_hours_ignore_the_calendar():
    # An emergency at 23:00 on a National Day holiday is due 2 h later, at 01:00.
    assert CAL.deadline(sh(2025, 10, 4, 23, 0), 2, CLOCK_HOURS) == sh(2025, 10, 5, 1, 0)
    assert CAL.deadline(sh(2025, 10, 4, 23, 0), 24, CLOCK_HOURS) == sh(2025, 10, 5, 23, 0)


def test_a_start_in_another_zone_gives_a_shanghai_result():
    # 09:00 UTC on Friday 13 June 2025 is 17:00 in Shanghai.
    due = CAL.deadline(datetime(2025, 6, 13, 9, 0, tzinfo=UTC), 2, WORKING_HOURS)
    assert due.tzinfo is SHANGHAI
    assert due == sh(2025, 6, 16, 10, 0)


def test_working_minutes_between_counts_only_office_time():
    # Friday 17:00 → Monday 10:00: 30 + 90.
    assert CAL.working_minutes_between(sh(2025, 6, 13, 17, 0), sh(2025, 6, 16, 10, 0)) == 120
    # The whole National Day week, 1 Oct 00:00 → 9 Oct 00:00, holds no working time.
    assert CAL.working_minutes_between(sh(2025, 10, 1), sh(2025, 10, 9)) == 0
    # Sunday 28 Sep 2025 (调休) is a full working day.
    assert CAL.working_minutes_between(sh(2025, 9, 28), sh(2025, 9, 29)) == 450
    # An empty or inverted range is zero.
    assert CAL.working_minutes_between(sh(2025, 6, 16, 10, 0), sh(2025, 6, 16, 10, 0)) == 0
    assert CAL.working_minutes_between(sh(2025, 6, 16, 11, 0), sh(2025, 6, 16, 10, 0)) == 0


def test_a_pause_moves_a_working_deadline_by_the_working_time_inside_it():
    due = sh(2025, 6, 17, 10, 0)  # Tuesday
    # Paused Monday 16:30 → Tuesday 09:00: 60 + 30 = 90 working minutes; Tuesday 10:00 + 90 = 11:30.
    assert CAL.shift_for_pause(due, sh(2025, 6, 16, 16, 30), sh(2025, 6, 17, 9, 0), WORKING_DAYS) == sh(
        2025, 6, 17, 11, 30
    )
    # The same pause moves a clock deadline by its full 16.5 hours.
    assert CAL.shift_for_pause(due, sh(2025, 6, 16, 16, 30), sh(2025, 6, 17, 9, 0), CLOCK_HOURS) == sh(
        2025, 6, 18, 2, 30
    )


def test_custom_single_period_office_hours_09_00_to_18_00():
    cal = WorkCalendar(office_hours=NINE_TO_SIX)
    # One working day from Monday 09:00 is Monday 18:00; Friday 17:00 + 2 h is Monday 10:00 (60 + 60).
    assert cal.deadline(sh(2025, 6, 16, 9, 0), 1, WORKING_DAYS) == sh(2025, 6, 16, 18, 0)
    assert cal.deadline(sh(2025, 6, 13, 17, 0), 2, WORKING_HOURS) == sh(2025, 6, 16, 10, 0)
    # No lunch break: 12:30 is office time.
    assert cal.add_working_minutes(sh(2025, 6, 16, 12, 30), 60) == sh(2025, 6, 16, 13, 30)
    assert cal.working_minutes_between(sh(2025, 6, 16), sh(2025, 6, 17)) == 540


# ---- beyond the package's years: 2027 ------------------------------------------------------------------


def test_chinese_calendar_1_11_knows_only_2004_to_2026():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2003, 12, 31))


def test_2027_falls_back_to_monday_to_friday():
    assert CAL.is_workday(date(2027, 1, 4))  # Monday
    assert not CAL.is_workday(date(2027, 1, 2))  # Saturday
    # The fallback cannot know New Year's Day (a Friday): that is what the admin table is for.
    assert CAL.is_workday(date(2027, 1, 1))
    assert not CAL.is_known(date(2027, 1, 1))


def test_overrides_for_2027_take_precedence_over_the_fallback():
    cal = WorkCalendar({date(2027, 1, 1): False, date(2027, 1, 2): True})
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 2))
    assert cal.is_known(date(2027, 1, 1))
    assert not cal.is_known(date(2027, 1, 3))


def test_overrides_take_precedence_over_the_official_calendar():
    cal = WorkCalendar({date(2025, 10, 1): True, date(2025, 10, 9): False})
    assert cal.is_workday(date(2025, 10, 1))
    assert not cal.is_workday(date(2025, 10, 9))


def test_uncovered_days_lists_2027_days_without_overrides():
    # 20 days from 20 Dec 2026: 12 days of 2026 are known, 1–8 Jan 2027 are not.
    assert CAL.uncovered_days(date(2026, 12, 20), 20) == days(date(2027, 1, 1), date(2027, 1, 8))


def test_uncovered_days_is_empty_when_overrides_cover_2027():
    overrides = {d: d.weekday() < 5 for d in days(date(2027, 1, 1), date(2027, 3, 31))}
    cal = WorkCalendar(overrides)
    assert cal.uncovered_days(date(2026, 12, 20), 60) == []
    assert cal.uncovered_days(date(2027, 3, 1), 60) == days(date(2027, 4, 1), date(2027, 4, 29))


def test_uncovered_days_is_empty_inside_the_package_years():
    assert CAL.uncovered_days(date(2025, 1, 1), 730) == []
    assert CAL.uncovered_days(date(2025, 1, 1), 0) == []
    with pytest.raises(ValueError):
        CAL.uncovered_days(date(2025, 1, 1), -1)


def test_a_deadline_from_mid_december_2026_reaches_2027_without_error():
    # Monday 21 Dec 2026 08:30 + 15 working days: 21–25 Dec (5), 28–31 Dec (4), Fri 1 Jan 2027 by the
    # fallback (1), 4–8 Jan (5) → Friday 8 Jan 17:30.
    assert CAL.deadline(sh(2026, 12, 21, 8, 30), 15, WORKING_DAYS) == sh(2027, 1, 8, 17, 30)
    # With 1 Jan 2027 entered as a holiday it moves one working day, to Monday 11 Jan.
    cal = WorkCalendar({date(2027, 1, 1): False})
    assert cal.deadline(sh(2026, 12, 21, 8, 30), 15, WORKING_DAYS) == sh(2027, 1, 11, 17, 30)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
@PROPERTY
def test_every_date_from_1900_to_2200_gets_an_answer(day):
    works = CAL.is_workday(day)
    assert isinstance(works, bool)
    if not CAL.is_known(day):
        assert works == (day.weekday() < 5)
    start = datetime.combine(day, time(12, 0), tzinfo=SHANGHAI)
    assert CAL.deadline(start, 15, WORKING_DAYS) > start
    assert CAL.deadline(start, 2, CLOCK_HOURS) == start + timedelta(hours=2)


# ---- bad input -----------------------------------------------------------------------------------------


def test_a_naive_datetime_is_rejected():
    naive = datetime(2025, 6, 16, 9, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_minutes(naive, 10)
    with pytest.raises(ValueError):
        CAL.deadline(naive, 1, CLOCK_HOURS)
    with pytest.raises(ValueError):
        CAL.working_minutes_between(sh(2025, 6, 16), naive)
    with pytest.raises(ValueError):
        CAL.shift_for_pause(sh(2025, 6, 16), naive, sh(2025, 6, 17), WORKING_HOURS)


@pytest.mark.parametrize("amount", [-1, -0.001, float("nan"), float("inf")])
def test_negative_or_non_finite_amounts_are_rejected(amount):
    with pytest.raises(ValueError):
        CAL.add_working_minutes(sh(2025, 6, 16, 9, 0), amount)
    with pytest.raises(ValueError):
        CAL.deadline(sh(2025, 6, 16, 9, 0), amount, CLOCK_HOURS)


def test_an_unknown_unit_is_rejected():
    with pytest.raises(ValueError, match="unknown SLA unit"):
        CAL.deadline(sh(2025, 6, 16, 9, 0), 1, "fortnights")
    with pytest.raises(ValueError, match="unknown SLA unit"):
        CAL.shift_for_pause(sh(2025, 6, 16), sh(2025, 6, 16), sh(2025, 6, 17), "working_weeks")


def test_the_search_stops_after_about_three_years_without_working_time():
    # An admin table that (wrongly) marks four whole years as holidays.
    all_off = {d: False for d in days(date(2030, 1, 1), date(2033, 12, 31))}
    cal = WorkCalendar(all_off)
    with pytest.raises(ValueError, match=f"{MAX_SEARCH_DAYS} days"):
        cal.add_working_minutes(sh(2030, 1, 1), 1)
    assert cal.working_minutes_between(sh(2030, 1, 1), sh(2033, 12, 31)) == 0


def test_fifteen_working_days_take_no_minute_by_minute_loop():
    # 300 fresh calendars (no warm caches) each computing 15 working days over Spring Festival 2026.
    began = timer.perf_counter()
    for i in range(300):
        due = WorkCalendar().deadline(sh(2026, 2, 1, 9, 0) + timedelta(minutes=7 * i), 15, WORKING_DAYS)
        assert due > sh(2026, 2, 1, 9, 0)
    assert timer.perf_counter() - began < 2.0


# ---- properties ----------------------------------------------------------------------------------------


@given(starts, st.floats(min_value=0, max_value=30, allow_nan=False), units)
@PROPERTY
def test_a_deadline_is_never_before_its_start(start, amount, unit):
    due = CAL.deadline(start, amount, unit)
    assert due >= start
    assert due.tzinfo is SHANGHAI


@given(starts, minutes, minutes)
@PROPERTY
def test_adding_more_working_minutes_never_gives_an_earlier_time(start, a, b):
    low, high = sorted((a, b))
    assert CAL.add_working_minutes(start, low) <= CAL.add_working_minutes(start, high)


@given(starts, minutes)
@PROPERTY
def test_working_minutes_between_undoes_add_working_minutes(start, m):
    assert CAL.working_minutes_between(start, CAL.add_working_minutes(start, m)) == pytest.approx(m, abs=1e-6)


@given(starts, st.integers(min_value=0, max_value=5 * 450), st.integers(min_value=1, max_value=5 * 450))
@PROPERTY
def test_adding_a_then_b_equals_adding_a_plus_b(start, a, b):
    # b > 0: adding 0 moves a period-closing deadline (12:00) to the next office moment (13:30).
    assert CAL.add_working_minutes(CAL.add_working_minutes(start, a), b) == CAL.add_working_minutes(start, a + b)


@given(starts, st.integers(min_value=0, max_value=3 * 24 * 60), units, st.integers(min_value=0, max_value=10**6))
@PROPERTY
def test_an_empty_or_inverted_pause_changes_nothing(deadline, back, unit, seconds):
    paused_to = deadline + timedelta(seconds=seconds)
    paused_from = paused_to + timedelta(minutes=back)
    assert CAL.shift_for_pause(deadline, paused_from, paused_to, unit) == deadline


@given(starts, starts, working_units, st.floats(0, 1), st.floats(0, 1))
@PROPERTY
def test_a_pause_outside_office_hours_shifts_a_working_deadline_by_nothing(deadline, moment, unit, f, g):
    # Between any moment and the next office moment there is no working time; pause inside that gap.
    gap_end = CAL.add_working_minutes(moment, 0)
    gap = gap_end - moment
    paused_from, paused_to = sorted((moment + gap * f, moment + gap * g))
    assert CAL.shift_for_pause(deadline, paused_from, paused_to, unit) == deadline


@given(starts, starts, st.integers(min_value=0, max_value=20 * 24 * 60), working_units)
@PROPERTY
def test_a_pause_adds_exactly_its_working_time_to_a_working_deadline(deadline, paused_from, length, unit):
    paused_to = paused_from + timedelta(minutes=length)
    shifted = CAL.shift_for_pause(deadline, paused_from, paused_to, unit)
    paused = CAL.working_minutes_between(paused_from, paused_to)
    assert shifted >= deadline
    assert CAL.working_minutes_between(deadline, shifted) == pytest.approx(paused, abs=1e-6)


@given(starts, st.floats(min_value=0, max_value=72, allow_nan=False), office_hours())
@PROPERTY
def test_a_clock_deadline_ignores_calendar_and_office_hours(start, hours, hours_of_office):
    everything_off = WorkCalendar({start.date() + timedelta(days=i): False for i in range(5)}, hours_of_office)
    expected = start + timedelta(hours=hours)
    assert CAL.deadline(start, hours, CLOCK_HOURS) == expected
    assert everything_off.deadline(start, hours, CLOCK_HOURS) == expected
    # Pausing a clock deadline moves it by the pause's length, calendar or not.
    assert everything_off.shift_for_pause(expected, start, start + timedelta(hours=hours), CLOCK_HOURS) == (
        expected + timedelta(hours=hours)
    )


@given(
    starts,
    office_hours(),
    st.floats(min_value=0, max_value=20, allow_nan=False),
    st.integers(min_value=0, max_value=10),
    st.integers(min_value=1, max_value=10),
    st.data(),
)
@PROPERTY
def test_custom_office_hours_keep_the_arithmetic_consistent(start, hours_of_office, working_days, a_days, b_days, data):
    # Amounts are drawn in working days of *these* office hours: a 1-minute office day would otherwise need
    # thousands of calendar days for a few thousand minutes and (rightly) hit the 3-year search cap.
    per_day = hours_of_office.minutes_per_day
    cal = WorkCalendar(office_hours=hours_of_office)
    m = working_days * per_day
    due = cal.add_working_minutes(start, m)
    assert due >= start
    assert cal.working_minutes_between(start, due) == pytest.approx(m, abs=1e-6)
    a = data.draw(st.integers(min_value=0, max_value=a_days * per_day), label="a")
    b = data.draw(st.integers(min_value=1, max_value=b_days * per_day), label="b")
    assert cal.add_working_minutes(cal.add_working_minutes(start, a), b) == cal.add_working_minutes(start, a + b)
    # One working day is exactly one day's office time.
    one_day = cal.deadline(start, 1, WORKING_DAYS)
    assert cal.working_minutes_between(start, one_day) == per_day


@given(starts, st.integers(min_value=0, max_value=10))
@PROPERTY
def test_n_working_days_span_n_working_dates_from_an_office_day_start(start, n):
    # From the opening of a working day, N working days close the N-th working day at 17:30.
    opening = datetime.combine(CAL.add_working_minutes(start, 0).date(), time(8, 30), tzinfo=SHANGHAI)
    due = CAL.deadline(opening, n, WORKING_DAYS)
    if n == 0:
        assert due == opening
        return
    assert due.time() == time(17, 30)
    working_dates = [d for d in days(opening.date(), due.date()) if CAL.is_workday(d)]
    assert len(working_dates) == n
