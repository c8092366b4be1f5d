"""Open311 GeoReport v2 shapes, field for field as the specification names them.

They document the API (OpenAPI) and fix the field order of both the JSON and the XML answers.
"""

from typing import Literal

from pydantic import BaseModel, Field

from shared.schemas import LocalDateTime

PublicStatus = Literal["open", "closed"]


class Open311Error(BaseModel):
    """One entry of the specification's error array."""

    code: int = Field(examples=[400])
    description: str = Field(examples=["service_code: required"])


class Endpoint(BaseModel):
    specification: str
    url: str
    changeset: LocalDateTime
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    changeset: LocalDateTime
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    service_code: str = Field(examples=["env.noise"])
    service_name: str = Field(examples=["噪声扰民"])
    description: str
    metadata: bool = Field(description="Whether `services/{service_code}` has attributes to answer")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str | None = Field(description="The parent category's name")


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class Created(BaseModel):
    service_request_id: str = Field(examples=["1024"])
    service_notice: str | None = Field(examples=["受理编号 261126482177353"])
    account_id: str | None


class ServiceRequest(BaseModel):
    """A request as the public sees it: no names, phones or e-mails; numbers in text redacted."""

    service_request_id: str
    status: PublicStatus
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: LocalDateTime
    updated_datetime: LocalDateTime
    expected_datetime: LocalDateTime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Token(BaseModel):
    service_request_id: str
    token: str


class RequestUpdate(BaseModel):
    """FixMyStreet's `servicerequestupdates` entry: one status change of a request."""

    update_id: str
    service_request_id: str
    status: PublicStatus
    updated_datetime: LocalDateTime
    description: str
    media_url: str | None
