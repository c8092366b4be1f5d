"""What `/v1/admin/pii-rotation` takes and answers: a PII key rotation run and its progress (no key, ever)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.schemas import CityDateTime


class PiiRotationStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: bool = Field(
        False,
        description="Recompute the phones' matching hashes under PII_HASH_KEY too (needs PII_HASH_KEY_PREVIOUS set)",
    )
    batch: int | None = Field(None, ge=1, le=10_000, description="Rows per batch (default PII_ROTATION_BATCH)")


class RotationCounts(BaseModel):
    scanned: int = Field(0, description="Rows read, over every pass and table")
    reencrypted: int = Field(0, description="Ciphertexts rewritten under the newest key")
    recomputed: int = Field(0, description="Matching hashes rewritten under the new hash key")
    locked_skipped: int = Field(0, description="Rows a live transaction held: left for the next pass")
    unreadable: int = Field(0, description="Values no configured key opens (the run fails on them)")
    unreadable_refs: list[str] = Field([], description="The first of them, as `table:id`")


class PiiRotationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    state: Literal["running", "done", "failed"]
    key_id: int = Field(description="The PII key every ciphertext ends under")
    hashes: bool = Field(description="Whether the matching hashes are recomputed too")
    batch: int
    started_by: str
    started_at: CityDateTime
    phase: str = Field(description="The table the current pass is walking")
    pass_no: int = Field(description="Pass 1 rewrites; a pass that changes nothing ends the run")
    cursor: int = Field(description="The last primary key done in that table: a stopped run resumes after it")
    pass_changed: int
    pass_skipped: int
    counts: RotationCounts
    heartbeat_at: CityDateTime | None = Field(description="The runner's last batch")
    finished_at: CityDateTime | None
    error: str | None

    @field_validator("counts", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> Any:
        return RotationCounts.model_validate(value or {})


class KeysOut(BaseModel):
    encryption_key_id: int = Field(description="The newest PII key (new ciphertexts are written under it)")
    encryption_key_ids: list[int] = Field(description="Every PII key id this process can open")
    hash_rotation: bool = Field(description="PII_HASH_KEY_PREVIOUS is set: matchers accept either hash")


class PiiRotationStatus(BaseModel):
    keys: KeysOut = Field(description="This API process's key configuration (ids only)")
    rotations: list[PiiRotationOut] = Field(description="The latest runs, newest first")
