"""Hot-spot alerts (SPEC §6): the periodic scan that raises them, and the scoped list staff read.

The window. A scan at `now` looks at the 24 h window that ends at the end of `now`'s hour:
`window_start` = `now` truncated to the hour − 23 h, `window_end` = `window_start` + 24 h. It counts
the requests received from `window_start` up to `now` (so between 23 h and 24 h of requests:
never more than a day's worth, which keeps the test conservative), against the daily mean of the
28 days `[window_start − 28 d, window_start)`. Every scan within one clock hour has the same
window, so concurrent or repeated scans compute the same `window_start` and the unique
(community, category root, window_start) constraint with ON CONFLICT DO NOTHING lets only one of
them insert the alert (and only the one that inserted emits the webhook).

Once per window. A community and top-level category get no new alert while one exists whose
window overlaps the new one (window starts less than 24 h apart): a burst is reported once, and
a later alert needs a new, non-overlapping day of unusual counts. Scans also take a transaction
advisory lock, so two scans at an hour boundary (different windows) cannot both miss each
other's alert.

What counts. Every request received in the community's subtree (a community or one of its grids:
the 5th element of `unit_path`), in every status — duplicates too, since many people reporting
the same thing is the signal. Requests located only at a street, district or the city belong to no
community and are not counted. Categories roll up to their top-level code (`env.noise` → `env`).

Key group. The threshold is 3 instead of 5 when the top-level category, or any category among the
requests counted in the window, is flagged `key_group`.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.alerts.hotspots import DEFAULT_RULES, is_hotspot
from services.alerts.schemas import AlertOut
from services.config import service as config
from services.config.schemas import HotspotRules
from services.models import Category, HotspotAlert, OrgUnit, Request
from services.webhooks.service import emit
from shared.auth import Principal
from shared.errors import Forbidden
from shared.pagination import decode_cursor, next_cursor
from shared.views import Rows, RowWith

logger = logging.getLogger("minqing.alerts")

# The defaults; a scan uses the rule settings' window and baseline (`hotspots.window_hours`, `baseline_days`).
WINDOW = timedelta(hours=DEFAULT_RULES.window_hours)
BASELINE = timedelta(days=DEFAULT_RULES.baseline_days)
# `/3302/330203/330203001/330203001001/…` split on "/" is "", city, district, street, community, …
COMMUNITY_PATH_ELEMENT = 5
EVENT_TYPE = "alert.raised"
# pg_advisory_xact_lock key of the scan ("hotspot" in ASCII).
SCAN_LOCK_KEY = 0x686F7473706F74


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    baseline_start: datetime


def window_for(now: datetime, rules: HotspotRules = DEFAULT_RULES) -> Window:
    """The window (24 h by default) a scan at `now` looks at: it ends at the end of `now`'s hour."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    length, baseline = timedelta(hours=rules.window_hours), timedelta(days=rules.baseline_days)
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = hour + timedelta(hours=1) - length
    return Window(start=start, end=start + length, baseline_start=start - baseline)


@dataclass(frozen=True, slots=True)
class _Counts:
    community_id: int
    community_code: str
    community_name: str
    category_root: str
    category_name: str
    count_24h: int
    baseline_count: int
    key_group: bool


def _counts_query(window: Window, now: datetime, rules: HotspotRules = DEFAULT_RULES) -> Select[Any]:
    """Per (community, top-level category): requests in the window and in the 28 days before.

    One aggregate over the requests received in the 29 days; pairs under the smallest threshold
    are dropped in SQL already.
    """
    recent = (
        select(
            func.split_part(Request.unit_path, "/", COMMUNITY_PATH_ELEMENT).label("community_code"),
            func.split_part(Request.category_code, ".", 1).label("category_root"),
            Request.received_at,
            Category.key_group,
        )
        .join(Category, Category.code == Request.category_code)
        .where(Request.received_at >= window.baseline_start, Request.received_at <= now)
        .subquery()
    )
    in_window = recent.c.received_at >= window.start
    count_24h = func.count().filter(in_window)
    counts = (
        select(
            recent.c.community_code,
            recent.c.category_root,
            count_24h.label("count_24h"),
            func.count().filter(~in_window).label("baseline_count"),
            func.coalesce(func.bool_or(recent.c.key_group).filter(in_window), False).label("key_group"),
        )
        .where(recent.c.community_code != "")
        .group_by(recent.c.community_code, recent.c.category_root)
        .having(count_24h >= min(rules.min_count, rules.key_group_min_count))
        .subquery()
    )
    root = aliased(Category)
    return (
        select(
            OrgUnit.id,
            OrgUnit.code,
            OrgUnit.name,
            counts.c.category_root,
            func.coalesce(root.name, counts.c.category_root),
            counts.c.count_24h,
            counts.c.baseline_count,
            or_(counts.c.key_group, func.coalesce(root.key_group, False)),
        )
        .join(OrgUnit, and_(OrgUnit.code == counts.c.community_code, OrgUnit.level == "community"))
        .outerjoin(root, root.code == counts.c.category_root)
        .order_by(OrgUnit.code, counts.c.category_root)
    )


async def _already_alerted(session: AsyncSession, window: Window, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """The pairs that have an alert whose window overlaps this one (starts less than a window apart)."""
    if not pairs:
        return set()
    length = window.end - window.start
    rows = await session.execute(
        select(HotspotAlert.community_id, HotspotAlert.category_root).where(
            tuple_(HotspotAlert.community_id, HotspotAlert.category_root).in_(pairs),
            HotspotAlert.window_start > window.start - length,
            HotspotAlert.window_start < window.start + length,
        )
    )
    return {(community_id, root) for community_id, root in rows}


async def scan(session: AsyncSession, now: datetime) -> list[HotspotAlert]:
    """Raise the hot-spot alerts due at `now`; return the ones this scan inserted (and announced)."""
    rules = (await config.current(session)).hotspots
    window = window_for(now, rules)
    await session.execute(select(func.pg_advisory_xact_lock(SCAN_LOCK_KEY)))
    hot: list[tuple[_Counts, float, float]] = []
    for row in await session.execute(_counts_query(window, now, rules)):
        counts = _Counts(*row)
        baseline_mean = counts.baseline_count / rules.baseline_days
        raise_it, p_value = is_hotspot(counts.count_24h, baseline_mean, counts.key_group, rules)
        if raise_it:
            hot.append((counts, baseline_mean, p_value))
    done = await _already_alerted(session, window, [(c.community_id, c.category_root) for c, _, _ in hot])
    due = [(c, mean, p) for c, mean, p in hot if (c.community_id, c.category_root) not in done]
    if not due:
        return []
    stmt = (
        pg_insert(HotspotAlert)
        .values(
            [
                {
                    "community_id": c.community_id,
                    "category_root": c.category_root,
                    "window_start": window.start,
                    "window_end": window.end,
                    "count_24h": c.count_24h,
                    "baseline_daily_mean": mean,
                    "p_value": p_value,
                    "key_group": c.key_group,
                    "raised_at": now,
                }
                for c, mean, p_value in due
            ]
        )
        .on_conflict_do_nothing(index_elements=["community_id", "category_root", "window_start"])
        .returning(HotspotAlert)
    )
    inserted = list(await session.scalars(stmt))
    facts = {(c.community_id, c.category_root): c for c, _, _ in due}
    for alert in inserted:
        c = facts[(alert.community_id, alert.category_root)]
        logger.info(
            "hot spot", extra={"community": c.community_code, "category": c.category_root, "count": c.count_24h}
        )
        await emit(session, EVENT_TYPE, webhook_fields(alert, c), for_actor=None, occurred_at=alert.raised_at)
    return sorted(inserted, key=lambda a: a.id)


def webhook_fields(alert: HotspotAlert, counts: _Counts) -> dict[str, Any]:
    """The `alert.raised` event's fields: the alert as the API shows it, its id as `alert_id`.

    (`id`, `type` and `occurred_at` = `raised_at` are the webhook envelope's.)
    """
    view = AlertView(alert, counts.community_code, counts.community_name, counts.category_name)
    fields = AlertOut.model_validate(view).model_dump(mode="json")
    fields["alert_id"] = fields.pop("id")
    return fields


@dataclass(frozen=True, slots=True)
class AlertView(RowWith[HotspotAlert]):
    """An alert with its community's code and name and its top-level category's name (`AlertOut`)."""

    community_code: str
    community_name: str
    root_name: str | None  # the top-level category's name, when it has one

    @property
    def category_name(self) -> str:
        return self.root_name or self.row.category_root

    @property
    def window_end(self) -> datetime:
        return self.row.window_end or self.row.window_start + WINDOW


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    *,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    category_root: str | None = None,
) -> Rows[AlertView]:
    """Alerts of the communities in the principal's subtree, newest (`raised_at`) first, cursor-paged.

    `since` keeps the alerts raised at or after it. Staff scoped below a community (a grid) see none:
    an alert is about a whole community.
    """
    if not principal.is_staff:
        raise Forbidden("Hot-spot alerts are for staff")
    root = aliased(Category)
    stmt = (
        select(HotspotAlert, OrgUnit.code, OrgUnit.name, root.name)
        .join(OrgUnit, OrgUnit.id == HotspotAlert.community_id)
        .outerjoin(root, root.code == HotspotAlert.category_root)
        .where(OrgUnit.path.startswith(principal.scope_path, autoescape=True))
    )
    if since is not None:
        stmt = stmt.where(HotspotAlert.raised_at >= since)
    if category_root is not None:
        stmt = stmt.where(HotspotAlert.category_root == category_root)
    after = decode_cursor(cursor)
    if after is not None:
        # Keyset on (raised_at, id), anchored at the cursor's alert.
        anchor = select(HotspotAlert.raised_at).where(HotspotAlert.id == after).scalar_subquery()
        stmt = stmt.where(tuple_(HotspotAlert.raised_at, HotspotAlert.id) < tuple_(anchor, after))
    order = (HotspotAlert.raised_at.desc(), HotspotAlert.id.desc())
    rows = list(await session.execute(stmt.order_by(*order).limit(limit)))
    items = [AlertView(alert, code, name, category_name) for alert, code, name, category_name in rows]
    return Rows(items, next_cursor([a.id for a, _, _, _ in rows], limit))
