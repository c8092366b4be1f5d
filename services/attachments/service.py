"""Attachments (附件): upload with limits, content checks and metadata removal; reading with signed links;
the download behind those links; the public copy Open311 shows. Takes the session, never commits.

Reading a request in scope is the intake domain's rule, which sits above this one: callers pass it in as
`can_see` (`services.intake.service.can_see` bound to the session and caller), so one rule decides both.

Order of writes in an upload: every file is checked first (all or nothing), then its objects are stored,
then its rows are inserted and the trail entry appended, in the caller's transaction. A transaction that
then fails leaves objects no row names (harmless: their keys are random), never a row without its object.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.attachments import auth, content, links
from services.attachments import repository as repo
from services.attachments.errors import (
    AttachmentNotFound,
    AttachmentRequestNotFound,
    FileTooLarge,
    LinkMissing,
    LinkRefused,
    TooManyFiles,
    UnreadableFile,
    UnsupportedFileType,
)
from services.attachments.storage import get_storage
from services.lifecycle.events import append_event
from services.models import Request
from services.models.attachments import Attachment
from shared.auth import Principal, actor_of
from shared.errors import InvalidInput, field_error
from shared.settings import get_settings
from shared.views import RowWith

logger = logging.getLogger("minqing.attachments")

Visibility = Callable[[Request], Awaitable[bool]]
TRAIL_EVENT = "attachments_added"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One uploaded file as the router read it: the name it came with, and its bytes (at most one past the limit)."""

    filename: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Links:
    download: str
    thumbnail: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AttachmentView(RowWith[Attachment]):
    """An attachment with its signed links (`AttachmentOut`)."""

    links: Links
    public: bool


@dataclass(frozen=True, slots=True)
class Download:
    """What a valid link serves."""

    data: bytes
    content_type: str
    filename: str
    expires: int


def _key() -> bytes:
    return links.link_key(get_settings().secret_key.get_secret_value())


def view(attachment: Attachment, *, now: float | None = None) -> AttachmentView:
    """The attachment with links that are good for `ATTACHMENT_LINK_TTL_SECONDS` from now."""
    expires = int(now if now is not None else time.time()) + get_settings().attachment_link_ttl_seconds
    key = _key()
    return AttachmentView(
        attachment,
        links=Links(
            download=links.download_path(key, attachment.id, "original", expires),
            thumbnail=links.download_path(key, attachment.id, "thumbnail", expires)
            if attachment.has_thumbnail
            else None,
            expires_at=datetime.fromtimestamp(expires, UTC),
        ),
        public=attachment.public_token is not None,
    )


# ---- upload ----------------------------------------------------------------------------------


async def upload(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    files: list[Incoming],
    *,
    target: str,
    event_seq: int | None,
    keep_metadata: bool,
    can_see: Visibility,
) -> list[AttachmentView]:
    """Attach `files` to the request (or to one of its trail entries) and log it in the trail."""
    settings = get_settings()
    request = await repo.locked_request(session, request_id)
    if request is None:
        raise AttachmentRequestNotFound(f"No request {request_id}")
    visible = principal.is_staff and await can_see(request)
    auth.check_may_attach(principal, request, target, can_see=visible)
    event = await repo.event_at(session, request.id, event_seq) if event_seq is not None else None
    auth.check_trail_target(principal, target, event_seq, event)
    if keep_metadata and not principal.is_staff:
        raise InvalidInput(
            "Only staff may keep an image's metadata",
            errors=[field_error(["keep_metadata"], "an integration's images are always stripped of EXIF")],
        )
    existing = await repo.count_of(session, request.id)
    _check_counts(len(files), existing, settings.attachment_max_files, settings.attachment_max_per_request)
    public = auth.may_be_public(target, event)
    prepared = [await _prepare(i, f, keep_metadata=keep_metadata, public=public) for i, f in enumerate(files)]
    actor = actor_of(principal)
    rows: list[Attachment] = []
    storage = get_storage()
    for incoming, ready in zip(files, prepared, strict=True):
        key = f"{request.id}/{secrets.token_urlsafe(18)}"
        await storage.put(f"{key}/original", ready.data, ready.content_type)
        if ready.thumbnail is not None:
            await storage.put(f"{key}/thumbnail", ready.thumbnail, content.PUBLIC_TYPE)
        if ready.public_copy is not None:
            await storage.put(f"{key}/public", ready.public_copy, content.PUBLIC_TYPE)
        rows.append(
            Attachment(
                request_id=request.id,
                target=target,
                event_seq=event_seq,
                storage_key=key,
                filename=content.safe_filename(incoming.filename),
                content_type=ready.content_type,
                size_bytes=len(ready.data),
                sha256=ready.sha256,
                width=ready.width,
                height=ready.height,
                has_thumbnail=ready.thumbnail is not None,
                metadata_kept=keep_metadata and ready.width is not None,
                public_token=secrets.token_urlsafe(32) if ready.public_copy is not None else None,
                uploaded_by=actor,
            )
        )
    session.add_all(rows)
    await session.flush()
    # The trail keeps each file's digest: a stored file changed afterwards no longer matches the chained entry.
    await append_event(
        session,
        request.id,
        TRAIL_EVENT,
        actor,
        data={
            "target": target,
            "event_seq": event_seq,
            "files": [
                {"attachment_id": r.id, "content_type": r.content_type, "size_bytes": r.size_bytes, "sha256": r.sha256}
                for r in rows
            ],
            "metadata_kept": any(r.metadata_kept for r in rows),
        },
    )
    now = time.time()
    return [view(r, now=now) for r in rows]


def _check_counts(new: int, existing: int, per_upload: int, per_request: int) -> None:
    if new == 0:
        raise InvalidInput("Send at least one file", errors=[field_error(["files"], "no file was sent")])
    if new > per_upload:
        raise TooManyFiles(
            f"At most {per_upload} files per upload",
            errors=[field_error(["files"], f"{new} files; at most {per_upload}")],
        )
    if existing + new > per_request:
        raise TooManyFiles(
            f"A request holds at most {per_request} attachments; it has {existing}",
            errors=[field_error(["files"], f"{per_request - existing} more may be attached to this request")],
        )


async def _prepare(index: int, incoming: Incoming, *, keep_metadata: bool, public: bool) -> content.Prepared:
    settings = get_settings()
    where: list[str | int] = ["files", index]
    if len(incoming.data) > settings.attachment_max_bytes:
        raise FileTooLarge(
            f"File {index + 1} exceeds {settings.attachment_max_bytes} bytes",
            errors=[field_error(where, f"larger than {settings.attachment_max_bytes} bytes")],
        )
    if not incoming.data:
        raise UnreadableFile(f"File {index + 1} is empty", errors=[field_error(where, "the file is empty")])
    try:
        # Decoding and encoding images is CPU work: off the event loop.
        return await asyncio.to_thread(
            content.prepare,
            incoming.data,
            allowed=frozenset(settings.attachment_allowed_types) & frozenset(content.KNOWN_TYPES),
            keep_metadata=keep_metadata,
            max_pixels=settings.attachment_max_pixels,
            thumbnail_px=settings.attachment_thumbnail_px,
            public_px=settings.attachment_public_px if public else None,
        )
    except content.ContentRefused as refused:
        error = UnsupportedFileType if refused.reason == "unsupported" else UnreadableFile
        raise error(f"File {index + 1}: {refused.message}", errors=[field_error(where, refused.message)]) from None


# ---- reading ---------------------------------------------------------------------------------


async def _visible_request(session: AsyncSession, request_id: int, can_see: Visibility) -> Request:
    request = await session.get(Request, request_id)
    if request is None or not await can_see(request):
        raise AttachmentRequestNotFound(f"No request {request_id}")
    return request


async def list_attachments(session: AsyncSession, request_id: int, can_see: Visibility) -> list[AttachmentView]:
    """The request's attachments with fresh signed links, for whoever may read the request."""
    request = await _visible_request(session, request_id, can_see)
    now = time.time()
    return [view(a, now=now) for a in await repo.of_request(session, request.id)]


async def get_attachment(
    session: AsyncSession, request_id: int, attachment_id: int, can_see: Visibility
) -> AttachmentView:
    request = await _visible_request(session, request_id, can_see)
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.request_id != request.id:
        raise AttachmentNotFound(f"Request {request_id} has no attachment {attachment_id}")
    return view(attachment)


# ---- downloads through signed links ------------------------------------------------------------


async def download(
    session: AsyncSession, attachment_id: int, variant: links.Variant, expires: int, signature: str | None
) -> Download:
    """The bytes a signed link names, once its signature and expiry hold (nothing else is asked)."""
    if not signature:
        raise LinkMissing("This link needs its signature; read the attachment for a fresh link")
    if not links.is_valid(_key(), attachment_id, variant, expires, signature, now=int(time.time())):
        raise LinkRefused("The link is invalid or has expired; read the attachment for a fresh link")
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or (variant == "thumbnail" and not attachment.has_thumbnail):
        raise AttachmentNotFound(f"No {variant} of attachment {attachment_id}")
    data = await get_storage().get(f"{attachment.storage_key}/{variant}")
    if data is None:
        logger.warning("attachment object missing", extra={"attachment_id": attachment.id, "variant": variant})
        raise AttachmentNotFound(f"The {variant} of attachment {attachment_id} is not in the file store")
    content_type = attachment.content_type if variant == "original" else content.PUBLIC_TYPE
    return Download(data, content_type, attachment.filename, expires)


# ---- the public copy -------------------------------------------------------------------------


async def public_copy(
    session: AsyncSession, token: str, *, is_public: Callable[[int], Awaitable[bool]]
) -> bytes | None:
    """The metadata-free public copy behind `token`, while its request is public (`is_public(request_id)`)."""
    attachment = await repo.by_public_token(session, token)
    if attachment is None or not await is_public(attachment.request_id):
        return None
    return await get_storage().get(f"{attachment.storage_key}/public")


async def public_tokens(session: AsyncSession, request_ids: list[int]) -> dict[int, str]:
    """Each request's first public copy's token (for Open311's `media_url`)."""
    return await repo.first_public_tokens(session, request_ids)
