"""Pydantic shapes of the organisation and configuration API."""

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasPath, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.schemas import LocalDateTime, SafeText, StrictInput

Level = Literal["city", "district", "street", "community", "grid"]
Priority = Literal["emergency", "high", "normal"]
TeamRole = Literal["grid_worker", "social_worker", "party_member", "volunteer", "specialist", "department_staff"]
HandlerKind = Literal["grid_team", "department", "joint"]
SlaUnit = Literal["clock_hours", "working_hours", "working_days"]

Code = Annotated[SafeText, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$", examples=["330203001"])]
Name = Annotated[SafeText, Field(min_length=1, max_length=100, examples=["南门街道"])]
NameEn = Annotated[SafeText | None, Field(default=None, max_length=200, examples=["Nanmen Street"])]
CATEGORY_CODE_RE = r"^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){0,3}$"
CategoryCode = Annotated[SafeText, Field(max_length=64, pattern=CATEGORY_CODE_RE, examples=["env.noise"])]
# A rule's category: a code, a prefix of codes, or "*" for all.
CategoryPrefix = Annotated[
    SafeText, Field(max_length=64, pattern=rf"^(\*|{CATEGORY_CODE_RE[1:-1]})$", examples=["env"])
]

Position = Annotated[list[float], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4, max_length=10_000)]


def _two_decimals(value: float) -> float:
    rounded = round(value, 2)
    if rounded <= 0:
        raise ValueError("must be at least 0.01 (amounts are kept to two decimals)")
    return rounded


# An SLA amount (hours or days), kept to two decimals as stored.
Amount = Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False), AfterValidator(_two_decimals)]

SQUARE: list[Any] = [[121.55, 29.87], [121.56, 29.87], [121.56, 29.88], [121.55, 29.88], [121.55, 29.87]]


class Geometry(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in WGS84, `[lon, lat]` order."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"type": "Polygon", "coordinates": [SQUARE]}]}
    )

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _shape(self) -> "Geometry":
        polygons = [self.coordinates] if self.type == "Polygon" else self.coordinates
        for polygon in polygons:
            if not isinstance(polygon, list) or not polygon:
                raise ValueError("each polygon must be a non-empty list of rings")
            for ring in polygon:
                _check_ring(ring)
        return self


def _check_ring(ring: Any) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValueError("each ring needs at least 4 positions")
    for position in ring:
        if (
            not isinstance(position, list)
            or len(position) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position)
        ):
            raise ValueError("a position is [lon, lat]")
        lon, lat = position[0], position[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("a position is out of the WGS84 range")
    if ring[0] != ring[-1]:
        raise ValueError("a ring must be closed (first position equals last)")


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "330203001099",
                    "name": "新建社区",
                    "name_en": "Xinjian Community",
                    "level": "community",
                    "parent_code": "330203001",
                }
            ]
        },
    )

    code: Code
    name: Name
    name_en: NameEn = None
    level: Level
    parent_code: Code | None = None
    geometry: Geometry | None = None


class OrgUnitUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "南门街道", "version": 1}]})

    name: Name | None = None
    name_en: NameEn = None
    geometry: Geometry | None = None
    version: int | None = Field(default=None, ge=1, description="The version you read; or send If-Match")


class OrgUnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str | None
    level: Level
    parent_code: str | None
    path: str
    geometry: dict[str, Any] | None = None
    version: int
    created_at: LocalDateTime
    updated_at: LocalDateTime


class GridProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: Code
    name: Name
    name_en: NameEn = None
    parent_code: Code


class GridFeature(BaseModel):
    type: Literal["Feature"]
    properties: GridProperties
    geometry: Geometry


class GridImport(BaseModel):
    """A GeoJSON FeatureCollection of grids; each feature names its community (`parent_code`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {
                                "code": "330203001001099",
                                "name": "第99网格",
                                "parent_code": "330203001001",
                            },
                            "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
                        }
                    ],
                }
            ]
        }
    )

    type: Literal["FeatureCollection"]
    features: list[GridFeature] = Field(min_length=1, max_length=20_000)


class GridImportResult(BaseModel):
    created: int
    updated: int


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "HB",
                    "name": "市生态环境局",
                    "name_en": "Ecology and Environment Bureau",
                    "scope_code": "3302",
                }
            ]
        },
    )

    code: Code
    name: Name
    name_en: NameEn = None
    scope_code: Code = Field(description="The city or district the department serves")


class DepartmentUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False, "version": 1}]})

    name: Name | None = None
    name_en: NameEn = None
    active: bool | None = None
    version: int | None = Field(default=None, ge=1)


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(
        description="The department's id: requests name their lead department by it (`handling.lead_department_id`,"
        " the `lead_department_id` filter of `GET /v1/requests`)"
    )
    code: str
    name: str
    name_en: str | None
    scope_code: str
    active: bool
    version: int


class TeamCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"grid_code": "330203001001001", "name": "第1网格服务团队"}]}
    )

    grid_code: Code
    name: Name


class TeamUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "第1网格服务团队"}]})

    name: Name | None = None
    version: int | None = Field(default=None, ge=1)


class MemberCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"username": "gw_330203001001001", "team_role": "grid_worker", "on_duty": True}]
        },
    )

    username: Annotated[SafeText, Field(min_length=1, max_length=64)]
    team_role: TeamRole
    on_duty: bool = True


class MemberUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"on_duty": False}]})

    team_role: TeamRole | None = None
    on_duty: bool | None = None
    version: int | None = Field(default=None, ge=1)


class MemberOut(BaseModel):
    """A staff account's membership of a grid team or a department."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(
        description="The membership's id (`PATCH` / `DELETE /v1/admin/members/{member_id}`); not the staff id"
    )
    staff_id: int = Field(
        description="The member's staff account id (`/v1/admin/staff/{staff_id}`): requests name their handler by it"
        " (`handling.handler_id`, the `handler_id` filter of `GET /v1/requests`)"
    )
    username: str = Field(
        validation_alias=AliasPath("staff", "username"), description="The member's staff account username"
    )
    display_name: str = Field(
        validation_alias=AliasPath("staff", "display_name"), description="The member's staff account display name"
    )
    team_role: TeamRole
    on_duty: bool
    team_id: int | None = Field(description="The grid team's id, for a team member (else null)")
    department_id: int | None = Field(description="The department's id, for a department member (else null)")
    department_code: str | None = Field(description="The department's code, for a department member (else null)")
    version: int


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(
        description="The team's id: requests name their lead grid team by it (`handling.lead_team_id`,"
        " the `lead_team_id` filter of `GET /v1/requests`)"
    )
    name: str
    grid_code: str
    members: list[MemberOut]
    version: int


class AttributeValue(BaseModel):
    key: Annotated[SafeText, Field(min_length=1, max_length=64)]
    name: Annotated[SafeText, Field(min_length=1, max_length=200)]


class CategoryAttribute(StrictInput):
    """An extra question for a category (an Open311 service-definition attribute)."""

    code: Annotated[SafeText, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    description: Annotated[SafeText, Field(min_length=1, max_length=500)]
    required: bool = False
    variable: bool = True
    order: Annotated[int, Field(ge=0, le=1000)] = 0
    datatype_description: Annotated[SafeText | None, Field(max_length=500)] = None
    values: Annotated[list[AttributeValue], Field(max_length=100)] = []

    @model_validator(mode="after")
    def _list_values(self) -> "CategoryAttribute":
        is_list = self.datatype in ("singlevaluelist", "multivaluelist")
        if is_list and not self.values:
            raise ValueError("list attributes need values")
        if not is_list and self.values:
            raise ValueError("only list attributes take values")
        return self


class CategoryCreate(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "env.noise",
                    "name": "噪声扰民",
                    "name_en": "Noise",
                    "default_priority": "normal",
                    "key_group": False,
                    "attributes": [
                        {
                            "code": "noise_source",
                            "datatype": "singlevaluelist",
                            "description": "噪声来源",
                            "values": [{"key": "construction", "name": "施工"}, {"key": "shop", "name": "商铺"}],
                        }
                    ],
                }
            ]
        },
    )

    code: CategoryCode
    name: Name
    name_en: NameEn = None
    description: Annotated[SafeText | None, Field(max_length=2000)] = None
    default_priority: Priority = "normal"
    key_group: bool = False
    attributes: Annotated[list[CategoryAttribute], Field(max_length=50)] = []

    @field_validator("attributes")
    @classmethod
    def _unique_codes(cls, value: list[CategoryAttribute]) -> list[CategoryAttribute]:
        codes = [a.code for a in value]
        if len(codes) != len(set(codes)):
            raise ValueError("attribute codes must be unique")
        return value


class CategoryUpdate(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"key_group": True, "version": 1}]})

    name: Name | None = None
    name_en: NameEn = None
    description: Annotated[SafeText | None, Field(max_length=2000)] = None
    default_priority: Priority | None = None
    key_group: bool | None = None
    attributes: Annotated[list[CategoryAttribute] | None, Field(max_length=50)] = None
    active: bool | None = None
    version: int | None = Field(default=None, ge=1)


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    parent_code: str | None
    name: str
    name_en: str | None
    description: str | None
    default_priority: Priority
    key_group: bool
    attributes: list[dict[str, Any]]
    active: bool
    version: int


def category_parent(code: str) -> str | None:
    head, _, _ = code.rpartition(".")
    return head or None
