"""SMS replies: the citizen answers the resolution's invitation by SMS (回访 by SMS).

`1` satisfied, `2` basically satisfied, `3` dissatisfied (the words 满意 / 基本满意 / 不满意 too; full-width
digits and spaces are fine). A bare answer goes to the phone's most recent open invitation; the four-digit
reply code in front (`4821 1`, `48211`) picks one when the phone has several open. The router turns the
match into feedback through the one feedback rule (services/handling/service.py: `record_feedback`).
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.models import Request
from services.models.messages import FeedbackInvitation, SmsReply

Answer = Literal["satisfied", "basically_satisfied", "dissatisfied"]
DIGITS: dict[str, Answer] = {"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}
WORDS: dict[str, Answer] = {"满意": "satisfied", "基本满意": "basically_satisfied", "不满意": "dissatisfied"}
_REPLY = re.compile(r"^(?:(\d{4}))?([123])$")
_IGNORED = re.compile(r"[\s,，.。:：;；!！、#＃\-]+")
# What an SMS answer says about the resolution: a dissatisfied citizen says the problem is not solved (3 reopens).
RESOLVED: dict[Answer, bool] = {"satisfied": True, "basically_satisfied": True, "dissatisfied": False}


@dataclass(frozen=True, slots=True)
class ParsedReply:
    answer: Answer | None
    reply_code: str | None = None


def parse_reply(text: str) -> ParsedReply:
    """The answer (and the reply code, if given) of an SMS reply's text; `answer` None when unreadable (pure)."""
    compact = _IGNORED.sub("", unicodedata.normalize("NFKC", text or ""))
    if len(compact) > 20:
        return ParsedReply(None)
    if compact in WORDS:
        return ParsedReply(WORDS[compact])
    match = _REPLY.match(compact)
    if match is None:
        for word in sorted(WORDS, key=len, reverse=True):  # "4821不满意"
            if compact.endswith(word) and re.fullmatch(r"\d{4}", compact[: -len(word)]):
                return ParsedReply(WORDS[word], compact[: -len(word)])
        return ParsedReply(None)
    return ParsedReply(DIGITS[match.group(2)], match.group(1))


@dataclass(frozen=True, slots=True)
class Match:
    """An open invitation an SMS reply answers: the request to record the feedback on."""

    invitation_id: int
    request_id: int
    resolution_no: int


async def find_invitation(session: AsyncSession, phone_hashes: Sequence[str], parsed: ParsedReply) -> Match | None:
    """The open invitation of this phone the reply answers: the one with its reply code, else the latest.
    `phone_hashes`: the phone's hashes (two while the hash key rotates: an invitation may carry either)."""
    stmt = (
        select(FeedbackInvitation.id, FeedbackInvitation.request_id, FeedbackInvitation.resolution_no)
        .join(Request, Request.id == FeedbackInvitation.request_id)
        .where(
            FeedbackInvitation.phone_hash.in_(phone_hashes),
            FeedbackInvitation.used_at.is_(None),
            Request.status == "resolved",
            Request.resolution_no == FeedbackInvitation.resolution_no,
            Request.anonymous.is_(False),
        )
        .order_by(FeedbackInvitation.id.desc())
        .limit(1)
    )
    if parsed.reply_code is not None:
        stmt = stmt.where(FeedbackInvitation.reply_code == parsed.reply_code)
    row = (await session.execute(stmt)).first()
    return Match(row.id, row.request_id, row.resolution_no) if row else None


async def invitation_by_token_hash(session: AsyncSession, token_hash: str) -> FeedbackInvitation | None:
    return await session.scalar(select(FeedbackInvitation).where(FeedbackInvitation.token_hash == token_hash))


async def mark_used(session: AsyncSession, invitation_id: int) -> None:
    await session.execute(
        update(FeedbackInvitation)
        .where(FeedbackInvitation.id == invitation_id, FeedbackInvitation.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    )


async def seen_reply(session: AsyncSession, gateway_message_id: str) -> SmsReply | None:
    """The reply already recorded under this gateway message id (the gateway repeats what we did not ack).

    Takes a transaction lock on the id first, so two deliveries of one reply at once are handled one after
    the other: the second finds the first's row instead of colliding on it."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:id, 0))"), {"id": f"sms-reply:{gateway_message_id}"}
    )
    return await session.scalar(select(SmsReply).where(SmsReply.gateway_message_id == gateway_message_id))


async def record_reply(
    session: AsyncSession,
    *,
    gateway_message_id: str,
    phone_hash: str,
    parsed: ParsedReply,
    match: Match | None,
    outcome: str,
    status: str | None,
    received_at: datetime,
) -> SmsReply:
    reply = SmsReply(
        gateway_message_id=gateway_message_id,
        phone_hash=phone_hash,
        answer=parsed.answer,
        invitation_id=match.invitation_id if match else None,
        request_id=match.request_id if match else None,
        outcome=outcome,
        status=status,
        received_at=received_at,
    )
    session.add(reply)
    await session.flush()
    return reply
