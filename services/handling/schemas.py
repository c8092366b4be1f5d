"""Pydantic shapes of the handler workflow and the citizen's feedback."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.schemas import CITY_TIME_NOTE, CityDateTime, SafeText, StrictInput

Text = Annotated[SafeText, Field(min_length=1, max_length=4000)]


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已受理，明日上门"}]})
    note: Text | None = None


ReturnReason = Literal["not_ours", "wrong_location", "wrong_category"]
Id = Annotated[int, Field(ge=1, le=2**62)]
CategoryCode = Annotated[SafeText, Field(min_length=1, max_length=64)]


class ReturnIn(StrictInput):
    """Why the unit gives the request back, and (optionally) where it should go instead."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason": "not_ours", "note": "属供电公司职责", "proposed_department_id": 3},
                {"reason": "wrong_category", "note": "实为噪声扰民", "proposed_category": "env.noise"},
                {"reason": "wrong_location", "note": "地址在隔壁网格", "proposed_team_id": 12},
            ]
        }
    )
    reason: ReturnReason = Field(
        description="`not_ours` (another unit's duty), `wrong_location` (another place), `wrong_category`"
        " (with a proposed category or unit)"
    )
    note: Text = Field(description="Why, in words (kept in the trail)")
    proposed_category: CategoryCode | None = Field(
        None, description="The category it should have; the re-route follows it (its deadlines too)"
    )
    proposed_team_id: Id | None = Field(None, description="The grid team that should handle it (`TeamOut.id`)")
    proposed_department_id: Id | None = Field(
        None, description="The department that should handle it (`DepartmentOut.id`)"
    )

    @property
    def proposed_unit(self) -> int | None:
        return self.proposed_team_id or self.proposed_department_id


class ReturnReviewIn(StrictInput):
    """A dispatcher's decision on a return waiting for review (退单审核)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "confirm", "note": "确属供电公司职责"},
                {"decision": "reject", "note": "属本网格职责，请继续办理"},
            ]
        }
    )
    decision: Literal["confirm", "reject"] = Field(
        description="`confirm`: the return takes effect (re-routed without the unit); `reject`: back to the unit"
    )
    note: Text = Field(description="The reviewer's reason (kept in the trail)")


class NoteIn(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "已联系施工方，今晚起停止夜间施工", "public": True}]},
    )
    text: Text
    public: bool = Field(False, description="Shown to the citizen when tracking")


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "等待群众补充材料"}]})
    reason: Text


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "材料已补齐"}]})
    note: Text | None = None


class ResolveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "resolved", "reply": "经协调，工地已停止夜间施工。"}]},
    )
    outcome: Literal["resolved", "explained", "unresolvable"]
    reply: Text = Field(description="The public reply to the citizen")


class ReassignIn(StrictInput):
    """Exactly one target: a handler (staff id), a grid team, or a department."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"department_code": "HB", "note": "转环保"}]})
    handler_id: Annotated[int | None, Field(ge=1, le=2**62)] = None
    team_id: Annotated[int | None, Field(ge=1, le=2**62)] = None
    department_code: Annotated[SafeText | None, Field(min_length=1, max_length=32)] = None
    note: Text | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "ReassignIn":
        if sum(x is not None for x in (self.handler_id, self.team_id, self.department_code)) != 1:
            raise ValueError("give exactly one of handler_id, team_id, department_code")
        return self


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "涉及多部门，需上级协调"}]})
    note: Text


DepartmentCode = Annotated[SafeText, Field(min_length=1, max_length=32)]


class JointIn(StrictInput):
    """Co-units to add (民情会办): departments (by code or id) and grid teams (by id); the lead stays responsible."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"department_codes": ["ZR", "CG"]},
                {
                    "department_ids": [4],
                    "team_ids": [17],
                    "respond_by": "2026-12-10T17:30:00+08:00",
                    "note": "请城管局与相邻网格协助核查",
                },
            ]
        }
    )
    department_codes: Annotated[list[DepartmentCode], Field(max_length=10)] = []
    department_ids: Annotated[list[Id], Field(max_length=10)] = []
    team_ids: Annotated[list[Id], Field(max_length=10)] = []
    respond_by: Annotated[
        CityDateTime | None,
        Field(
            description="When the co-units must reply; by default 3 working days from now, never after the"
            f" request's resolution deadline. {CITY_TIME_NOTE}"
        ),
    ] = None
    note: Text | None = None

    @property
    def unit_count(self) -> int:
        return len(self.department_codes) + len(self.department_ids) + len(self.team_ids)


class CoTaskReplyIn(StrictInput):
    """A co-unit's reply on its part of a joint request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reply": "城管局已于12月5日拆除违建，现场已恢复。", "public": True}],
        }
    )
    reply: Text = Field(description="The co-unit's answer on its part, for the lead (and the citizen if public)")
    public: bool = Field(False, description="Shown to the citizen when tracking, under the co-unit's name")


class CoTaskAcceptIn(StrictInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "已收到，明日现场核查"}]})
    note: Text | None = None


class CoTaskWaiveIn(StrictInput):
    """A dispatcher excuses a co-unit from replying, so the lead can resolve without it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "该部门已书面说明不涉及本事项"}]})
    reason: Text


class LinkDuplicateIn(StrictInput):
    """Mark this request as a duplicate of another (by hand); it then follows the original's handling."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"original_id": 1024, "reason": "同一工地同一噪声问题，合并办理"}]}
    )
    original_id: Id = Field(description="The request it duplicates (if that is itself a duplicate, its original)")
    reason: Text


class UnlinkDuplicateIn(StrictInput):
    """Undo a duplicate link: the request is routed as a new one."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "两处不同工地，并非同一问题"}]})
    reason: Text


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"category": "env.noise"}]})
    category: Annotated[SafeText, Field(min_length=1, max_length=64)]


class FeedbackIn(StrictInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"resolved": True, "satisfaction": "satisfied", "comment": "处理及时"}]},
    )
    resolved: bool
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    comment: Annotated[SafeText | None, Field(max_length=2000)] = None


class CitizenFeedbackIn(FeedbackIn):
    """The citizen proves the request is theirs like when tracking."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone_last4": "1234", "resolved": True, "satisfaction": "satisfied", "comment": "满意"}]
        },
    )
    phone_last4: Annotated[SafeText | None, Field(pattern=r"^\d{4}$")] = None
    citizen_token: Annotated[SafeText | None, Field(min_length=1, max_length=100)] = None

    @model_validator(mode="after")
    def _proof(self) -> "CitizenFeedbackIn":
        if self.phone_last4 is None and self.citizen_token is None:
            raise ValueError("give phone_last4 or citizen_token")
        return self


class FeedbackOut(BaseModel):
    request_id: int
    resolution_no: int
    status: str
    reopened: bool
