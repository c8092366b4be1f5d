"""What `GET /v1/audit/verify` answers: the seals and chains checked and every finding."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.lifecycle.seals import TrailReport
from shared.schemas import CityDateTime


class SealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seal_no: int
    sealed_at: CityDateTime
    leaves: int = Field(description="Chain heads and admin audit rows this seal holds")
    hash: str = Field(description="Keep it outside the platform: it pins everything sealed up to it")


class FindingOut(BaseModel):
    problem: Literal["seal_missing", "seal_broken", "edited", "deleted", "truncated"]
    detail: str
    request_id: int | None = None
    seq: int | None = Field(None, description="The first event concerned")
    audit_id: int | None = None
    seal_no: int | None = None


class TrailVerifyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "intact": False,
                    "checked_at": "2026-12-04T12:40:00+08:00",
                    "seals": 42,
                    "chains": 1200,
                    "events": 8100,
                    "audit_rows": 310,
                    "latest_seal": {
                        "seal_no": 42,
                        "sealed_at": "2026-12-04T12:39:30+08:00",
                        "leaves": 12,
                        "hash": "9f2c…",
                    },
                    "findings": [
                        {
                            "problem": "truncated",
                            "detail": "sealed up to event 7, the trail ends at 5",
                            "request_id": 4711,
                            "seq": 6,
                        }
                    ],
                }
            ]
        }
    )

    intact: bool = Field(description="No finding: every seal holds and every chain matches its sealed head")
    checked_at: CityDateTime
    seals: int
    chains: int
    events: int
    audit_rows: int = Field(description="Sealed admin audit rows checked")
    latest_seal: SealOut | None
    findings: list[FindingOut] = Field(description="The first 500 findings")


def report_out(report: TrailReport, checked_at: datetime) -> TrailVerifyOut:
    return TrailVerifyOut(
        intact=report.intact,
        checked_at=checked_at,
        seals=report.seals,
        chains=report.chains,
        events=report.events,
        audit_rows=report.audit_rows,
        latest_seal=SealOut.model_validate(report.latest_seal) if report.latest_seal else None,
        findings=[
            FindingOut(
                problem=f.problem,
                detail=f.detail,
                request_id=f.request_id,
                seq=f.seq,
                audit_id=f.audit_id,
                seal_no=f.seal_no,
            )
            for f in report.findings[:500]
        ],
    )
