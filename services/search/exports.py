"""Exports of requests: CSV and GeoJSON for staff (leaders, analysts, dispatch centres) and an anonymised
open-data file for publication, streamed chunk by chunk (docs/search.md: exports).

`prepare` checks the caller, the filters and (for names and phones) the right to see them, and records the
export in the admin audit trail in the caller's unit of work, so the entry is committed before the first
byte leaves. `stream` then reads the requests up to the newest id at that moment in keyset chunks on a
connection of its own (no transaction open between chunks) and yields encoded bytes: memory holds one
chunk, whatever the size of the export.
"""

import csv
import io
import math
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.intake import service as intake
from services.search import auth
from services.search import repository as repo
from services.search.service import visible
from shared.auth import Principal
from shared.crypto import FieldCipher, field_cipher
from shared.db import get_engine
from shared.schemas import city_zone, local_iso

Format = Literal["csv", "geojson"]
Kind = Literal["staff", "open_data"]
CHUNK = 2000
# Open data: a point is published as the centre of its cell of this many degrees (about 1.1 km north-south,
# 0.97 km east-west at Ningbo's latitude), never finer.
CELL_DEGREES = 0.01
_MICRO = 1_000_000

STAFF_COLUMNS = (
    "id", "tracking_no", "received_at", "channel", "category", "category_name", "priority", "status", "sla_state",
    "org_unit_code", "lat", "lon", "address", "description", "lead_team_name", "lead_department_code",
    "lead_department_name", "handler_id", "respond_by", "resolve_by", "accepted_at", "resolved_at", "closed_at",
    "outcome", "close_reason", "duplicate_of", "anonymous", "citizen_name", "citizen_phone",
)  # fmt: skip
OPEN_DATA_COLUMNS = (
    "received_date", "channel", "category", "category_name", "priority", "status", "outcome", "close_reason",
    "responded_on_time", "resolved_on_time", "district_code", "district_name", "street_code", "street_name",
    "community_code", "community_name", "grid_code", "cell_lat", "cell_lon",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---- the rules, pure --------------------------------------------------------------------------------------


def coarsen(value: float, cell: float = CELL_DEGREES) -> float:
    """The centre of the cell (of `cell` degrees, aligned on 0) that holds `value`, in whole micro-degrees
    so that every point of a cell gives the very same number: nothing finer than the cell survives."""
    size = round(cell * _MICRO)
    index = math.floor(round(value * _MICRO) / size)
    return (index * size + size // 2) / _MICRO


def spreadsheet_safe(value: str | None) -> str:
    """A text cell a spreadsheet will not run as a formula (`=`, `+`, `-`, `@` first get a quote)."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return local_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return str(value)


def _on_time(done: datetime | None, due: datetime | None) -> bool | None:
    return None if done is None or due is None else done <= due


@dataclass(slots=True)
class Places:
    """The names of the units an open-data row is placed in: code -> (name, level)."""

    units: dict[str, tuple[str, str]] = field(default_factory=dict)

    def levels(self, path: str | None) -> dict[str, tuple[str, str]]:
        """level -> (code, name) along a unit path (`/3302/330203/…/`)."""
        found: dict[str, tuple[str, str]] = {}
        for code in (path or "").strip("/").split("/"):
            if code in self.units:
                name, level = self.units[code]
                found[level] = (code, name)
        return found


def staff_record(row: dict[str, Any], *, pii: bool, cipher: FieldCipher | None) -> dict[str, Any]:
    """One request of a staff export: names and phones only when `pii` (else left out, not even masked)."""
    name = phone = None
    if pii and cipher is not None:
        name = cipher.decrypt(row["citizen_name_enc"]) if row["citizen_name_enc"] else None
        phone = cipher.decrypt(row["citizen_phone_enc"]) if row["citizen_phone_enc"] else None
    return {
        "id": row["id"],
        "tracking_no": row["tracking_no"],
        "received_at": row["received_at"],
        "channel": row["channel"],
        "category": row["category_code"],
        "category_name": row["category_name"],
        "priority": row["priority"],
        "status": row["status"],
        "sla_state": row["sla_state"],
        "org_unit_code": row["org_unit_code"],
        "lat": row["lat"],
        "lon": row["lon"],
        "address": row["address"],
        "description": row["description"],
        "lead_team_name": row["lead_team_name"],
        "lead_department_code": row["lead_department_code"],
        "lead_department_name": row["lead_department_name"],
        "handler_id": row["handler_id"],
        "respond_by": row["respond_by"],
        "resolve_by": row["resolve_by"],
        "accepted_at": row["accepted_at"],
        "resolved_at": row["resolved_at"],
        "closed_at": row["closed_at"],
        "outcome": row["outcome"],
        "close_reason": row["close_reason"],
        "duplicate_of": row["duplicate_of_id"],
        "anonymous": row["anonymous"],
        "citizen_name": name,
        "citizen_phone": phone,
    }


def open_data_record(row: dict[str, Any], places: Places) -> dict[str, Any]:
    """One request of the open-data file: no id, tracking number, person, staff or free text; the day, not
    the time; the units down to the grid; the point only as the centre of its cell."""
    levels = places.levels(row["org_unit_path"])
    lat, lon = row["lat"], row["lon"]

    def unit(level: str, part: int) -> str | None:
        return levels[level][part] if level in levels else None

    return {
        "received_date": row["received_at"].astimezone(city_zone()).date(),
        "channel": row["channel"],
        "category": row["category_code"],
        "category_name": row["category_name"],
        "priority": row["priority"],
        "status": row["status"],
        "outcome": row["outcome"],
        "close_reason": row["close_reason"],
        "responded_on_time": _on_time(row["accepted_at"], row["respond_by"]),
        "resolved_on_time": _on_time(row["resolved_at"], row["resolve_by"]),
        "district_code": unit("district", 0),
        "district_name": unit("district", 1),
        "street_code": unit("street", 0),
        "street_name": unit("street", 1),
        "community_code": unit("community", 0),
        "community_name": unit("community", 1),
        "grid_code": unit("grid", 0),
        "cell_lat": coarsen(lat) if lat is not None else None,
        "cell_lon": coarsen(lon) if lon is not None else None,
    }


def csv_line(record: dict[str, Any], columns: tuple[str, ...]) -> list[str]:
    return [_cell(record[c]) for c in columns]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return local_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def feature(record: dict[str, Any], *, lat_key: str, lon_key: str) -> bytes:
    """A GeoJSON Feature (RFC 7946: [lon, lat], WGS84); a request without coordinates has a null geometry."""
    lat, lon = record[lat_key], record[lon_key]
    geometry = None if lat is None or lon is None else {"type": "Point", "coordinates": [lon, lat]}
    properties = {k: v for k, v in record.items() if k not in (lat_key, lon_key)}
    return orjson.dumps({"type": "Feature", "geometry": geometry, "properties": properties}, default=_json_default)


# ---- preparing and streaming ------------------------------------------------------------------------------


@dataclass(slots=True)
class Export:
    """A checked, audited export, ready to stream."""

    statement: Select[Any]
    up_to_id: int
    kind: Kind
    format: Format
    pii: bool
    places: Places

    @property
    def filename(self) -> str:
        stem = "requests-open-data" if self.kind == "open_data" else "requests"
        return f"{stem}-{self.up_to_id}.{self.format}"


async def prepare(
    session: AsyncSession,
    principal: Principal,
    filters: intake.RequestFilters,
    *,
    kind: Kind,
    format: Format,
    pii: bool = False,
) -> Export:
    """Check the caller and filters, fix the newest request id covered, and audit the export (the filters,
    the format, whether names and phones are in it)."""
    auth.check_can_export(principal, pii=pii and kind == "staff")
    statement = repo.export_statement(await visible(session, principal, filters), open_data=kind == "open_data")
    up_to_id = await repo.newest_id(session)
    places = Places()
    if kind == "open_data":
        places = Places(await repo.units_under(session, principal.scope_path))
    action = "requests.export_pii" if pii and kind == "staff" else f"requests.export_{kind}"
    await audit.record(
        session,
        principal,
        action,
        "requests",
        None,
        after={"format": format, "up_to_id": up_to_id, "filters": _filters_of(filters), "personal_data": pii},
    )
    return Export(statement, up_to_id, kind, format, pii and kind == "staff", places)


def _filters_of(filters: intake.RequestFilters) -> dict[str, Any]:
    return {k: v for k, v in asdict(filters).items() if v is not None}


async def records(export: Export) -> AsyncIterator[list[dict[str, Any]]]:
    """The export's records, a chunk at a time, on a connection of its own."""
    cipher = field_cipher() if export.pii else None
    after_id = 0
    async with get_engine().connect() as conn:
        while True:
            rows = await repo.export_chunk(
                conn, export.statement, after_id=after_id, up_to_id=export.up_to_id, size=CHUNK
            )
            await conn.rollback()  # read only: end the chunk's transaction before the client reads it
            if not rows:
                return
            after_id = rows[-1]["id"]
            if export.kind == "open_data":
                yield [open_data_record(r, export.places) for r in rows]
            else:
                yield [staff_record(r, pii=export.pii, cipher=cipher) for r in rows]
            if len(rows) < CHUNK:
                return


async def stream(export: Export) -> AsyncIterator[bytes]:
    """The encoded file: CSV (UTF-8 with a BOM, so spreadsheets read the Chinese) or a GeoJSON
    FeatureCollection, one chunk of requests per piece."""
    columns = OPEN_DATA_COLUMNS if export.kind == "open_data" else STAFF_COLUMNS
    if export.format == "csv":
        yield ("\ufeff" + _csv_text([list(columns)])).encode()
        async for chunk in records(export):
            yield _csv_text([csv_line(r, columns) for r in chunk]).encode()
        return
    lat_key, lon_key = ("cell_lat", "cell_lon") if export.kind == "open_data" else ("lat", "lon")
    yield b'{"type":"FeatureCollection","features":['
    first = True
    async for chunk in records(export):
        parts = [feature(r, lat_key=lat_key, lon_key=lon_key) for r in chunk]
        yield (b"" if first else b",") + b",".join(parts)
        first = False
    yield b"]}"


def _csv_text(lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    return buffer.getvalue()
