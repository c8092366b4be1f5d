"""Pydantic shapes of auth, staff accounts and API keys."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.auth import API_KEY_RIGHTS, CHANNELS, StaffRole
from shared.schemas import LocalDateTime, SafeText, StrictInput

Right = Literal["requests:create", "requests:read", "feedback:create", "webhooks:manage"]
Channel = Literal["hotline", "web", "app", "window", "station", "visit"]
Username = Annotated[
    SafeText, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["disp_haishu"])
]
Password = Annotated[SafeText, Field(min_length=10, max_length=128, examples=["a-long-passphrase"])]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class StaffCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "disp_haishu",
                    "display_name": "海曙区调度员",
                    "password": "a-long-passphrase",
                    "role": "dispatcher",
                    "scope_code": "330203",
                }
            ]
        },
    )

    username: Username
    display_name: Annotated[SafeText, Field(min_length=1, max_length=100)]
    password: Password
    role: StaffRole
    scope_code: Annotated[
        SafeText, Field(min_length=1, max_length=32, description="Org unit whose subtree the account sees")
    ]


class StaffUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False, "version": 1}]})

    display_name: Annotated[SafeText | None, Field(min_length=1, max_length=100)] = None
    password: Password | None = None
    role: StaffRole | None = None
    scope_code: Annotated[SafeText | None, Field(min_length=1, max_length=32)] = None
    active: bool | None = None
    version: int | None = Field(default=None, ge=1)


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: StaffRole
    scope_code: str
    active: bool
    last_login_at: LocalDateTime | None
    version: int


class MeOut(BaseModel):
    kind: Literal["staff", "integration"]
    id: int
    name: str
    role: StaffRole | None
    scope_code: str | None
    rights: list[str]
    channels: list[str]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "81890 hotline",
                    "channels": ["hotline"],
                    "rights": ["requests:create", "requests:read", "feedback:create"],
                }
            ]
        },
    )

    name: Annotated[SafeText, Field(min_length=1, max_length=100)]
    channels: Annotated[list[Channel], Field(min_length=1, max_length=len(CHANNELS))]
    rights: Annotated[list[Right], Field(min_length=1, max_length=len(API_KEY_RIGHTS))]

    @field_validator("channels", "rights")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    channels: list[Channel]
    rights: list[Right]
    created_at: LocalDateTime
    revoked_at: LocalDateTime | None
    last_used_at: LocalDateTime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown once, store it now")
