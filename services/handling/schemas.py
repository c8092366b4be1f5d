"""Pydantic shapes of the handler workflow and the citizen's feedback."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.schemas import SafeText, StrictInput

Text = Annotated[SafeText, Field(min_length=1, max_length=4000)]


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "已受理，明日上门"}]})
    note: Text | None = None


class ReturnIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "not_ours", "note": "属供电公司职责"}]}
    )
    reason: Literal["not_ours", "wrong_location", "wrong_category"]
    note: Text


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


class JointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"department_codes": ["ZR", "CG"]}]})
    department_codes: Annotated[
        list[Annotated[SafeText, Field(min_length=1, max_length=32)]], Field(min_length=1, max_length=10)
    ]


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
