"""PII key rotation runs (issue 17): re-encrypting citizens' names and phones under the newest key and
recomputing the phones' matching hashes, in batches with a stored cursor (services/intake/pii_rotation.py)."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, one_of

ROTATION_STATES = ("running", "done", "failed")
# The tables walked in each pass, in order: what holds ciphertexts under a PII key or a phone's keyed hash.
ROTATION_PHASES = ("requests", "feedback_invitations", "citizen_messages", "sms_replies")


class PiiRotation(Base):
    """One rotation run and its progress: the pass, the table and the last primary key done (a killed run
    resumes after it); counts of what it read and rewrote. At most one runs at a time."""

    __tablename__ = "pii_rotations"
    __table_args__ = (
        CheckConstraint(one_of("state", ROTATION_STATES), name="state"),
        CheckConstraint(one_of("phase", ROTATION_PHASES), name="phase"),
        Index("uq_pii_rotations_running", text("(true)"), unique=True, postgresql_where=text("state = 'running'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    # The key every ciphertext ends under (the first of PII_KEYS when the run started).
    key_id: Mapped[int] = mapped_column(Integer)
    # Whether the phones' matching hashes are recomputed too (PII_HASH_KEY_PREVIOUS set), and a fingerprint
    # of the hash key they are recomputed under (every process running it must agree).
    hashes: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    hash_key_fingerprint: Mapped[str | None] = mapped_column(String(16))
    batch: Mapped[int] = mapped_column(Integer)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    phase: Mapped[str] = mapped_column(String(32), default="requests", server_default="requests")
    pass_no: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # What the current pass changed or had to leave (locked rows): a pass with neither ends the run.
    pass_changed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pass_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # The runner holding the run (a random token) and its last sign of life: a stale lease may be taken over.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    heartbeat_at: Mapped[datetime | None]
    # Claims so far: numbers the long-queue job ids (`pii_rotation:<id>:<claims>`).
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
