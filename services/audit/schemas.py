"""The administration audit trail as the API shows it."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import LocalDateTime


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "occurred_at": "2026-12-04T09:30:00+08:00",
                    "actor": "staff:1",
                    "actor_name": "city_admin",
                    "action": "settings.updated",
                    "target_kind": "settings",
                    "target_id": "rules",
                    "before": {"sla": {"warning_share": 0.8}, "version": 1},
                    "after": {"sla": {"warning_share": 0.75}, "version": 2},
                    "client_ip": None,
                    "request_id": "3f1c2a9e0b7d4c58",
                }
            ]
        },
    )

    id: int
    occurred_at: LocalDateTime
    actor: str = Field(description="`staff:<id>`, `key:<id>`, `system:<what>` or `anonymous` (a failed login)")
    actor_name: str | None = Field(description="The staff username or key name (for a failed login: the name tried)")
    action: str = Field(description="`<kind>.<what happened>`, e.g. `login.failed`, `staff.updated`")
    target_kind: str
    target_id: str | None
    before: dict[str, Any] | None = Field(description="The object's fields before the change (secrets as `***`)")
    after: dict[str, Any] | None = Field(description="… and after it")
    client_ip: str | None = Field(description="The caller's address, where known (logins)")
    request_id: str | None = Field(description="The API request's id (`X-Request-ID`), to find it in the logs")
