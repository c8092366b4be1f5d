"""What the attachment endpoints answer."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import LocalDateTime

Target = Literal["request", "note", "reply", "resolution"]

_EXAMPLE: dict[str, Any] = {
    "id": 41,
    "request_id": 1024,
    "target": "resolution",
    "event_seq": 7,
    "filename": "整改后.jpg",
    "content_type": "image/jpeg",
    "size_bytes": 482113,
    "sha256": "9f2c0d5e8b1a4f3c7d6e5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706",
    "width": 1920,
    "height": 1440,
    "metadata_kept": False,
    "public": True,
    "uploaded_by": "staff:12",
    "created_at": "2026-12-04T10:15:00+08:00",
    "links": {
        "download": "/v1/attachments/41/content?variant=original&expires=1796350800&signature=q1…",
        "thumbnail": "/v1/attachments/41/content?variant=thumbnail&expires=1796350800&signature=Zx…",
        "expires_at": "2026-12-04T10:20:00+08:00",
    },
}


class AttachmentLinks(BaseModel):
    """Signed download links, valid until `expires_at` (`ATTACHMENT_LINK_TTL_SECONDS`); read the attachment
    again for fresh ones."""

    download: str = Field(description="The stored file (relative to the API's base URL); no credentials needed")
    thumbnail: str | None = Field(description="A JPEG at most `ATTACHMENT_THUMBNAIL_PX` wide or high (images only)")
    expires_at: LocalDateTime


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})

    id: int
    request_id: int
    target: Target = Field(description="`request`, or the trail entry it belongs to: `note`, `reply`, `resolution`")
    event_seq: int | None = Field(description="The `seq` of that trail entry (`GET /v1/requests/{id}/events`)")
    filename: str = Field(description="The name it was uploaded with (its last path part, cleaned)")
    content_type: str = Field(description="The type found in the content (the name and the client's claim are ignored)")
    size_bytes: int = Field(description="Of the stored file (after metadata was removed)")
    sha256: str = Field(description="SHA-256 of the stored file, also written into the request's trail")
    width: int | None
    height: int | None
    metadata_kept: bool = Field(description="Staff asked to keep the image's EXIF (location, camera)")
    public: bool = Field(
        description="A public copy without metadata exists: Open311 shows it when the request is public"
    )
    uploaded_by: str = Field(description="`staff:<id>` or `key:<id>`")
    created_at: LocalDateTime
    links: AttachmentLinks


class AttachmentList(BaseModel):
    """A request's attachments, oldest first."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{"items": [_EXAMPLE]}]})

    items: list[AttachmentOut]
