"""Search rules: free text in Chinese over a request's description, address and notes, and a caller's history
by phone, both in the caller's scope and with the filters of `GET /v1/requests` (docs/search.md)."""

import math

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.intake import repository as intake_repo
from services.intake import service as intake
from services.intake.schemas import RequestOut
from services.models import Request
from services.org import repository as org_repo
from services.search import auth
from services.search import repository as repo
from services.search.schemas import PhoneLookup, SearchHit, SearchPage
from services.search.text import Query, QueryProblem, day_steps, parse_query, rank
from shared.auth import Principal
from shared.crypto import phone_hashes
from shared.errors import InvalidInput, field_error
from shared.pagination import (
    Page,
    decode_cursor,
    decode_keyset_cursor,
    encode_keyset_cursor,
    invalid_cursor,
    next_cursor,
)

# Ranking reads the newest WINDOW matches of a query (bounded work however common its words: a year of a
# city holds hundreds of thousands of `噪音`); older ones are reached with filters or `received_to`.
WINDOW = 1000


async def _window(
    session: AsyncSession,
    reach: intake.Visibility,
    visible: Select[Request],
    query: Query,
    filters: intake.RequestFilters,
    *,
    up_to_id: int,
) -> list[repo.Candidate]:
    """The newest WINDOW + 1 matches (by day of receipt, then id): day by day back from the newest receipt in
    growing steps (`day_steps`), within the `received_from`/`received_to` filters, until the window is full.

    The index narrows each step to the caller's subtree, the category and the status asked for; what else
    the caller sees (requests it handles or its units are co-units of, outside the subtree) is found apart,
    by handler and co-task, and merged in."""
    span = await repo.received_span(session)
    if span is None:
        return []
    first, last = span
    if filters.received_from is not None:
        first = max(first, filters.received_from)
    if filters.received_to is not None:
        last = min(last, filters.received_to)
    # Every request lies under the city's unit (an unlocated one at it): a key all rows hold narrows nothing
    # and only lengthens the index's intersection (about twice the work for common words).
    subtree = None if reach.scope_path == await org_repo.root_path(session) else reach.scope_path
    narrowing = repo.Narrowing(unit_path=subtree, category=filters.category, status=filters.status)
    found: list[repo.Candidate] = []
    async with repo.planned_through_the_index(session):
        for days in day_steps(repo.day_number(first), repo.day_number(last)):
            found += await repo.candidates(
                session,
                visible,
                query,
                up_to_id=up_to_id,
                days=days,
                narrowing=narrowing,
                limit=WINDOW + 1 - len(found),
            )
            if len(found) > WINDOW:
                break
    if reach.scope_path != "/" and (reach.handler_id is not None or reach.co_unit_staff_id is not None):
        outside = await repo.outside_subtree(
            session,
            visible,
            query,
            subtree=reach.scope_path,
            handler_id=reach.handler_id,
            co_unit_staff_id=reach.co_unit_staff_id,
            up_to_id=up_to_id,
            received=(first, last),
            limit=WINDOW + 1,
        )
        if outside:
            # Merged in the window's own order: by day of receipt, newest first, then by id.
            found = sorted(found + outside, key=lambda c: (-repo.day_number(c.received_at), -c.id))
    return found[: WINDOW + 1]


async def visible(session: AsyncSession, principal: Principal, filters: intake.RequestFilters) -> Select[Request]:
    """The requests `GET /v1/requests` would list to this caller with these filters (scope, co-units, queues),
    unordered: the intake's own statement, so search and exports can never see more than the list."""
    return await intake._visible(session, principal, filters)


def read_query(q: str) -> Query:
    try:
        return parse_query(q)
    except QueryProblem as exc:
        raise InvalidInput(f"Cannot search for {q!r}: {exc}", errors=[field_error(["query", "q"], str(exc))]) from exc


def _read_cursor(cursor: str | None) -> tuple[int, float, int] | None:
    """(up_to_id, score, id) of a search cursor."""
    after = decode_keyset_cursor(cursor)
    if after is None:
        return None
    value, last_id = after
    up_to, _, score = value.partition(":")
    try:
        parsed = (int(up_to), float(score), last_id)
    except ValueError as exc:
        raise invalid_cursor() from exc
    if not math.isfinite(parsed[1]):
        raise invalid_cursor()
    return parsed


async def search_requests(
    session: AsyncSession,
    principal: Principal,
    q: str,
    filters: intake.RequestFilters,
    cursor: str | None,
    limit: int,
) -> SearchPage:
    """Requests in scope holding every word of `q`, best first (then newest), cursor-paged.

    The first page fixes the newest request id there is; later pages rank the same window (new requests
    arriving meanwhile do not shift the pages), and the cursor is the last (score, id) handed out.
    """
    auth.check_can_search(principal)
    query = read_query(q)
    after = _read_cursor(cursor)
    reach = await intake.visibility(session, principal, filters)
    stmt = intake.visible_within(reach, principal, filters)
    up_to_id = after[0] if after else await repo.newest_id(session)
    found = await _window(session, reach, stmt, query, filters, up_to_id=up_to_id)
    window_full = len(found) > WINDOW
    found = found[:WINDOW]
    scored = sorted(
        ((rank(query, c.description, c.address, c.notes), c.id) for c in found),
        key=lambda item: (-item[0].score, -item[1]),
    )
    if after is not None:
        _, score, last_id = after
        scored = [(s, i) for s, i in scored if s.score < score or (s.score == score and i < last_id)]
    page = scored[:limit]
    more = len(scored) > limit
    rows = await repo.requests_by_ids(session, [i for _, i in page])
    outs = await _outs(session, principal, [rows[i] for _, i in page if i in rows])
    items = [SearchHit(score=s.score, matched=list(s.matched), request=outs[i]) for s, i in page if i in outs]
    last = page[-1] if page and more else None
    return SearchPage(
        items=items,
        next_cursor=encode_keyset_cursor(f"{up_to_id}:{last[0].score!r}", last[1]) if last else None,
        ranked=len(found),
        window_full=window_full,
    )


async def _outs(session: AsyncSession, principal: Principal, requests: list[Request]) -> dict[int, RequestOut]:
    """Requests as `GET /v1/requests` shows them (masked citizens), their labels read once for the page."""
    labels = await intake_repo.labels_of(session, requests)
    ids = [r.id for r in requests]
    co_tasks = await intake_repo.co_tasks_of(session, ids)
    feedback = await intake_repo.feedback_of(session, ids) if principal.is_staff else {}
    return {
        r.id: await intake.request_out(session, principal, r, labels=labels, co_tasks=co_tasks, feedback=feedback)
        for r in requests
    }


def phone_reference(phone_hash: str) -> str:
    """What the audit trail keeps of a looked-up number: a prefix of its keyed hash (the number itself never;
    with the key, an investigation can tell whether a given number was looked up)."""
    return phone_hash[:16]


async def requests_by_phone(
    session: AsyncSession, principal: Principal, lookup: PhoneLookup, filters: intake.RequestFilters
) -> Page[RequestOut]:
    """A caller's requests in scope, newest first, found through the keyed phone hash; every lookup is in the
    admin audit trail (who, when, which number by its hash reference, how many requests it showed)."""
    auth.check_can_search(principal)
    hashes = phone_hashes(lookup.phone)  # two while the hash key rotates: either finds the request
    phone_hash = hashes[0]
    stmt = repo.by_phone(await visible(session, principal, filters), hashes, decode_cursor(lookup.cursor), lookup.limit)
    requests = list(await session.scalars(stmt))
    outs = await _outs(session, principal, requests)
    await audit.record(
        session,
        principal,
        "requests.phone_lookup",
        "citizen_phone",
        phone_reference(phone_hash),
        after={"shown": len(requests), "request_ids": [r.id for r in requests]},
    )
    return Page(items=[outs[r.id] for r in requests], next_cursor=next_cursor([r.id for r in requests], lookup.limit))
