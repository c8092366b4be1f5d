"""Retention runs (issue 17): what each pruning run removed or erased (services/lifecycle/retention.py)."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base


class RetentionRun(Base):
    """One run: when, how many rows of each kind it pruned or erased, and the ages it applied."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
