"""Trail seals (issue 17): signed, hash-linked records of the heads of every request trail and of the admin
audit rows since the seal before (see services/lifecycle/seals.py)."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base

SEAL_LEAF_KINDS = ("request", "admin_audit")


class TrailSeal(Base):
    """One seal: the Merkle root of its leaves, linked to the seal before by hash, signed with a key that
    is not in the database (an HMAC under the trail seal key)."""

    __tablename__ = "trail_seals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    seal_no: Mapped[int] = mapped_column(BigInteger, unique=True)
    sealed_at: Mapped[datetime]
    # Everything up to these ids is sealed (by this seal or one before).
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    last_audit_id: Mapped[int] = mapped_column(BigInteger)
    leaves: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))


class TrailSealLeaf(Base):
    """One sealed head: a request's trail at `seq` with its event hash, or one admin audit row (`seq` 0) with
    the hash of its content."""

    __tablename__ = "trail_seal_leaves"
    __table_args__ = (
        CheckConstraint("kind IN ('request', 'admin_audit')", name="kind"),
        Index("ix_trail_seal_leaves_seal_id", "seal_id"),
        Index("ix_trail_seal_leaves_subject", "kind", "subject_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("trail_seals.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
