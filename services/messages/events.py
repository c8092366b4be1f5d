"""Which change of a request tells the citizen what, and the template values it carries (pure)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# Public text longer than this is cut (an SMS of 70 characters a part; a long reply is read in tracking).
REPLY_CHARS = 100
OUTCOME_LABELS = {"resolved": "已解决", "explained": "已解释说明", "unresolvable": "暂无法解决"}
# Events whose public note is a reply to the citizen.
REPLY_KINDS = ("note", "co_task_replied")
# The first routing decision (either way) is when the receipt goes out: see docs/messages.md (why not at intake).
FIRST_ROUTING_KINDS = ("routed", "needs_dispatch")


@dataclass(frozen=True, slots=True)
class Change:
    """What the lifecycle recorded, as far as messages care."""

    request_id: int
    kind: str
    public: bool
    note: str | None
    data: dict[str, Any]
    version: int
    resolution_no: int
    reopen_count: int


def message_event(change: Change) -> str | None:
    """`received`, `replied`, `resolved`, `reopened`, or None when the change tells the citizen nothing."""
    if change.kind in FIRST_ROUTING_KINDS and change.data.get("routing_no") == 1:
        return "received"
    if change.kind in REPLY_KINDS and change.public and change.note:
        return "replied"
    if change.kind == "resolved":
        return "resolved"
    if change.kind == "reopened":
        return "reopened"
    return None


def dedupe_key(event: str, change: Change) -> str:
    """One message per fact: a second queueing of the same fact (a rerun, a relay) writes nothing."""
    if event == "received":
        return f"received:{change.request_id}"
    if event == "resolved":
        return f"resolved:{change.request_id}:{change.resolution_no}"
    if event == "reopened":
        return f"reopened:{change.request_id}:{change.reopen_count}"
    return f"replied:{change.request_id}:{change.version}"


def short(text: str | None, limit: int = REPLY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def local_label(moment: datetime, timezone: str) -> str:
    """`12月11日17:30`: how a time reads in an SMS."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"


def variables(
    event: str,
    change: Change,
    *,
    tracking_no: str,
    channel: str,
    public_reply: str | None,
    outcome: str | None,
    resolve_by: datetime,
    timezone: str,
) -> dict[str, Any]:
    """The template values of one message (no personal data: they are stored with it)."""
    values: dict[str, Any] = {"tracking_no": tracking_no, "channel": channel}
    if event == "replied":
        values["reply"] = short(change.note)
        values["unit_name"] = str(change.data.get("co_unit_name") or "")
    elif event == "resolved":
        values["reply"] = short(public_reply or change.note)
        values["outcome"] = OUTCOME_LABELS.get(outcome or "", outcome or "")
        values["resolution_no"] = change.resolution_no
    elif event == "reopened":
        values["resolve_by"] = local_label(resolve_by, timezone)
    return values
