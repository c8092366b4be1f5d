"""Citizen message tables (issue 16): see services/messages.

`citizen_messages` is the messages' outbox: one row per message owed to a citizen, written in the
transaction of the change that caused it and sent by a sweep with retries. `feedback_invitations` are
the evaluation invitations sent with a resolution (a link with a token, an SMS reply code);
`sms_replies` the replies the SMS gateway passed on (one per gateway message id, so a repeat is a no-op).
No phone number is stored here: the sender decrypts the request's own ciphertext when it sends.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, one_of

# What a citizen is told about (docs/messages.md): receipt with the tracking number, a public reply,
# the resolution with the feedback invitation, a reopening (重办).
MESSAGE_EVENTS = ("received", "replied", "resolved", "reopened")
# How: an SMS through the gateway, or the `citizen.notify` webhook of the integration that submitted it.
MESSAGE_MEDIA = ("sms", "webhook")
MESSAGE_STATES = ("pending", "sent", "failed")
REPLY_OUTCOMES = ("recorded", "already_evaluated", "expired", "no_invitation", "unreadable")


class FeedbackInvitation(Base):
    """The invitation to evaluate one resolution, sent by SMS: a link token and a reply code."""

    __tablename__ = "feedback_invitations"
    __table_args__ = (
        UniqueConstraint("request_id", "resolution_no"),
        Index("ix_feedback_invitations_phone_open", "phone_hash", "id", postgresql_where=text("used_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    resolution_no: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the link's token (looked up by it); the token itself AES-GCM encrypted, for the sender only.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Four digits the citizen may put before the answer ("4821 1") when several invitations are open.
    reply_code: Mapped[str] = mapped_column(String(8))
    phone_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    used_at: Mapped[datetime | None]


class CitizenMessage(Base):
    """One message owed to a citizen; the sweep sends it and retries until `give_up_at`."""

    __tablename__ = "citizen_messages"
    __table_args__ = (
        CheckConstraint(one_of("event", MESSAGE_EVENTS), name="event"),
        CheckConstraint(one_of("medium", MESSAGE_MEDIA), name="medium"),
        CheckConstraint(one_of("state", MESSAGE_STATES), name="state"),
        CheckConstraint("medium <> 'sms' OR phone_hash IS NOT NULL", name="sms_has_phone"),
        Index("ix_citizen_messages_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
        # The per-phone limit counts what was sent in the window and what is being sent now.
        Index("ix_citizen_messages_phone", "phone_hash", "sent_at", postgresql_where=text("phone_hash IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    medium: Mapped[str] = mapped_column(String(16))
    # One message per business fact (`resolved:<request>:<resolution no>`): queueing twice is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    # The keyed hash of the phone (SMS only): the per-phone limit; never the number itself.
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    # The template's values (tracking number, public reply, deadline): no personal data.
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_invitations.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    # Set while a sweep sends it (a crashed sweep's claim runs out); counted by the per-phone limit.
    leased_until: Mapped[datetime | None]
    give_up_at: Mapped[datetime]
    last_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    sent_at: Mapped[datetime | None]


class SmsReply(Base):
    """A citizen's SMS reply as the gateway passed it on, and what became of it (no text is kept)."""

    __tablename__ = "sms_replies"
    __table_args__ = (CheckConstraint(one_of("outcome", REPLY_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    gateway_message_id: Mapped[str] = mapped_column(String(100), unique=True)
    phone_hash: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(String(32))  # satisfied | basically_satisfied | dissatisfied
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_invitations.id", ondelete="SET NULL"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(24))
    status: Mapped[str | None] = mapped_column(String(16))  # the request's status after the feedback
    received_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
