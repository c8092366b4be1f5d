"""Attachments: photos and files on a request, a note, a co-unit's reply or the resolution (docs/attachments.md).

Uploads are multipart; reads answer short-lived signed links; the download endpoint serves what a link
names; Open311's `media_url` points at the public copy of a public request's photo.
"""

from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import Response
from fastapi.security import APIKeyQuery

from intake_api.deps import CurrentPrincipal
from services.attachments import service
from services.attachments.links import Variant
from services.attachments.schemas import AttachmentList, AttachmentOut, Target
from services.intake import service as intake
from services.open311 import service as open311
from services.open311.schemas import Open311Error
from shared.deps import SessionDep
from shared.settings import get_settings
from shared.views import Rows
from shared.web.errors import Problem, problem_responses

router = APIRouter()
TAGS: list[str | Any] = ["attachments"]

RequestId = Annotated[int, Path(ge=1, le=2**62)]
AttachmentId = Annotated[int, Path(ge=1, le=2**62, description="The attachment's id (`items[].id`)")]
_PROBLEM = {"model": Problem}
UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    **problem_responses(401, 403, 404, 413, 422),
    413: {**_PROBLEM, "description": "A file over `ATTACHMENT_MAX_BYTES`, or the whole body over its limit"},
    415: {**_PROBLEM, "description": "A file whose content is not an allowed type (`errors[]` names the file)"},
    422: {**_PROBLEM, "description": "Invalid input: `errors[]` names each field (`files.0`, `event_seq`, …)"},
}
READ_ANSWERS = problem_responses(401, 403, 404, 422)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
FILE_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")

# The link's signature is its credential: documented as an API key in the query, so clients and the
# inventory see that this endpoint takes one.
signed_link = APIKeyQuery(
    name="signature",
    scheme_name="SignedLink",
    description="The `signature` of a download link answered by the attachment endpoints",
    auto_error=False,
)


def _files_part(limit: int) -> Any:
    return File(
        description=f"1 to {get_settings().attachment_max_files} files, each at most {limit} bytes: JPEG, PNG, WebP"
        " or PDF, recognised by their content",
    )


@router.post(
    "/v1/requests/{request_id}/attachments",
    response_model=AttachmentList,
    status_code=201,
    responses=UPLOAD_ANSWERS,
    summary="Attach photos or files (附件)",
    tags=TAGS,
)
async def upload(
    session: SessionDep,
    principal: CurrentPrincipal,
    request_id: RequestId,
    files: Annotated[list[UploadFile], _files_part(get_settings().attachment_max_bytes)],
    target: Annotated[
        Target,
        Form(
            description="`request` (the request itself), or the trail entry `event_seq` names: `note`, `reply`"
            " (a co-unit's reply) or `resolution` (the after photos)"
        ),
    ] = "request",
    event_seq: Annotated[
        int | None, Form(ge=1, le=2**31 - 1, description="The trail entry's `seq`; for note, reply and resolution")
    ] = None,
    keep_metadata: Annotated[
        bool, Form(description="Staff only: keep the images' EXIF (location, camera); by default it is removed")
    ] = False,
) -> Rows[service.AttachmentView]:
    """Multipart upload of up to `ATTACHMENT_MAX_FILES` files. Integrations attach to the requests they
    submitted (`requests:create`); staff who may read the request and file or work requests attach to it, and
    the author of a note, co-unit reply or resolution to that entry. Types are checked by content; images are
    re-encoded without EXIF unless staff ask to keep it; each image gets a thumbnail. The trail records each
    file's SHA-256. Answers the attachments with signed download links."""
    limit = get_settings().attachment_max_bytes
    incoming = [service.Incoming(f.filename, await f.read(limit + 1)) for f in files]
    return Rows(
        await service.upload(
            session,
            principal,
            request_id,
            incoming,
            target=target,
            event_seq=event_seq,
            keep_metadata=keep_metadata,
            can_see=partial(intake.can_see, session, principal),
        )
    )


@router.get(
    "/v1/requests/{request_id}/attachments",
    response_model=AttachmentList,
    responses=READ_ANSWERS,
    summary="List a request's attachments",
    tags=TAGS,
)
async def list_attachments(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId
) -> Rows[service.AttachmentView]:
    """Every attachment of the request, oldest first, with signed links valid `ATTACHMENT_LINK_TTL_SECONDS`;
    for whoever may read the request."""
    found = await service.list_attachments(session, request_id, partial(intake.can_see, session, principal))
    return Rows(found)


@router.get(
    "/v1/requests/{request_id}/attachments/{attachment_id}",
    response_model=AttachmentOut,
    responses=READ_ANSWERS,
    summary="Read one attachment",
    tags=TAGS,
)
async def get_attachment(
    session: SessionDep, principal: CurrentPrincipal, request_id: RequestId, attachment_id: AttachmentId
) -> service.AttachmentView:
    """One attachment with fresh signed links."""
    return await service.get_attachment(session, request_id, attachment_id, partial(intake.can_see, session, principal))


@router.get(
    "/v1/attachments/{attachment_id}/content",
    response_class=Response,
    responses={
        200: {"description": "The file (or its JPEG thumbnail)", "content": dict.fromkeys(FILE_TYPES, _BINARY)},
        **problem_responses(401, 403, 404, 422),
        401: {**_PROBLEM, "description": "The link has no signature"},
        403: {**_PROBLEM, "description": "The signature does not hold, or the link has expired"},
    },
    summary="Download through a signed link",
    tags=TAGS,
)
async def download(
    session: SessionDep,
    attachment_id: AttachmentId,
    signature: Annotated[str | None, Depends(signed_link)],
    expires: Annotated[int, Query(ge=0, le=2**53, description="When the link expires (Unix seconds)")],
    variant: Annotated[Variant, Query(description="`original` or `thumbnail`")] = "original",
) -> Response:
    """What a signed link from the attachment endpoints names, until it expires; no other credentials. The
    scope was checked when the link was made, as for reading the request."""
    found = await service.download(session, attachment_id, variant, expires, signature)
    disposition = "inline" if found.content_type.startswith("image/") else "attachment"
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.filename, safe='')}",
            # Served bytes are never run as a page, even if a browser were to try.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=60",
        },
    )


@router.get(
    "/open311/v2/media/{token}.jpg",
    response_class=Response,
    tags=["open311"],
    responses={
        200: {"description": "The public copy (JPEG, no metadata)", "content": {"image/jpeg": _BINARY}},
        400: {"model": list[Open311Error], "description": "Bad input; the error array names each parameter"},
        404: {"model": list[Open311Error], "description": "Unknown, or its request is not public"},
    },
    summary="Open311: a public request's photo",
)
async def public_media(
    session: SessionDep,
    token: Annotated[str, Path(min_length=1, max_length=64, description="From a service request's `media_url`")],
) -> Response:
    """The copy of a photo that Open311's `media_url` names: re-encoded without metadata, at most
    `ATTACHMENT_PUBLIC_PX` on its longer side, served while the request is public (not anonymous, not key-group)."""
    data = await open311.public_media(session, token)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=300"})
