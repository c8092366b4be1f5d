"""The rule settings: every number the rules use (office hours, warning share, duplicate and hot-spot
thresholds, …) as one versioned JSON document (`services/config/schemas.py` defines and checks it)."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base


class RuleSettingsRow(Base):
    """The one row (id 1) of the rule settings; absent until an administrator first changes them (the
    defaults apply meanwhile). `version` is the If-Match version."""

    __tablename__ = "rule_settings"
    __table_args__ = (CheckConstraint("id = 1", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_by: Mapped[str | None] = mapped_column(String(64))
