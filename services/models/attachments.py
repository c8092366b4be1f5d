"""Attachment tables (issue 16): see services/attachments."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base, one_of

# What a file is attached to: the request itself (the citizen's or a clerk's photos: "before"), or one
# entry of its trail: a note, a co-unit's reply, or the resolution (the "after" photos, proof of resolution).
ATTACHMENT_TARGETS = ("request", "note", "reply", "resolution")


class Attachment(Base):
    """A photo or file on a request; its bytes (original, thumbnail, public copy) live in object storage."""

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint(one_of("target", ATTACHMENT_TARGETS), name="target"),
        # A trail target names its event; the request itself names none.
        CheckConstraint("(target = 'request') = (event_seq IS NULL)", name="event_for_trail_targets"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_attachments_request_id_id", "request_id", "id"),
        Index(
            "uq_attachments_public_token",
            "public_token",
            unique=True,
            postgresql_where=text("public_token IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"))
    target: Mapped[str] = mapped_column(String(16))
    # The seq of the trail event (note, co-unit reply, resolution) the file belongs to.
    event_seq: Mapped[int | None] = mapped_column(Integer)
    # Where the bytes are: `<storage_key>/original`, `/thumbnail`, `/public` (random, never derived from input).
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    # The type found in the content (never the name's or the client's claim).
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    has_thumbnail: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Staff asked to keep the image's EXIF (location, camera); otherwise it was stripped before storing.
    metadata_kept: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The key of the public, metadata-free copy (Open311 `media_url`); NULL when the file may not be public.
    public_token: Mapped[str | None] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))  # `key:<id>` or `staff:<id>`
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
