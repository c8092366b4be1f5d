"""The settings in force (services/config/service.py): cached briefly per process, so a change made by
another process applies within CACHE_SECONDS without a restart; and the rules read them."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.alerts.hotspots import is_hotspot
from services.config import service as config
from services.config.schemas import DuplicateRules, HotspotRules
from services.intake.duplicates import RequestFacts, is_duplicate


async def _store_as_another_process(session, data: str, version: int) -> None:
    await session.execute(
        text(
            "INSERT INTO rule_settings (id, data, version, updated_by) VALUES (1, CAST(:data AS jsonb), :v, 'staff:9') "
            "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version"
        ),
        {"data": data, "v": version},
    )
    await session.commit()


async def test_a_change_by_another_process_applies_once_the_cache_expires(session, monkeypatch):
    assert (await config.snapshot(session)).version == 1
    await _store_as_another_process(session, '{"sla": {"warning_share": 0.6}}', 2)
    # Within CACHE_SECONDS this process still answers from its cache (no query per call) …
    assert (await config.current(session)).sla.warning_share == 0.8
    # … and once it has expired, the new settings are in force.
    monkeypatch.setattr(config, "CACHE_SECONDS", 0.0)
    snapshot = await config.snapshot(session)
    assert snapshot.version == 2 and snapshot.rules.sla.warning_share == 0.6
    assert snapshot.updated_by == "staff:9"


async def test_the_sla_calendar_follows_the_settings_version(session, monkeypatch):
    from services.sla import service as sla

    monkeypatch.setattr(config, "CACHE_SECONDS", 0.0)
    assert (await sla.calendar(session)).office_hours.minutes_per_day == 450
    await _store_as_another_process(session, '{"sla": {"office_hours": [["09:00", "10:00"]], "warning_share": 0.5}}', 2)
    calendar = await sla.calendar(session)
    assert calendar.office_hours.minutes_per_day == 60
    assert calendar.warning_share == 0.5


def _facts(at: datetime, lat: float) -> RequestFacts:
    return RequestFacts(
        received_at=at,
        category="env.noise",
        lat=lat,
        lon=121.5,
        org_unit_id=1,
        phone_hash=None,
        description="噪声",
    )


def test_duplicate_thresholds_come_from_the_rules():
    now = datetime.now(UTC)
    earlier = _facts(now - timedelta(hours=80), 29.8)
    new = _facts(now, 29.8 + 70 / 111_195)  # 70 m north, 80 h later
    assert not is_duplicate(new, earlier)
    assert not is_duplicate(new, earlier, DuplicateRules(nearby_metres=100))
    assert is_duplicate(new, earlier, DuplicateRules(nearby_metres=100, nearby_window_hours=96))


def test_hotspot_thresholds_come_from_the_rules():
    assert is_hotspot(5, 0.0, False)[0]
    assert not is_hotspot(5, 0.0, False, HotspotRules(min_count=6))[0]
    assert is_hotspot(3, 0.0, True)[0]
    assert not is_hotspot(3, 0.0, True, HotspotRules(p_value=1e-6))[0]
    # A 48 h window expects twice the daily mean.
    assert is_hotspot(8, 1.0, False)[0] and not is_hotspot(8, 1.0, False, HotspotRules(window_hours=48))[0]
