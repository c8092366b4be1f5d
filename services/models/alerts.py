"""Hot-spot alerts: a surge of related requests in one community (an early warning, 提前介入)."""

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.orm import Base


class HotspotAlert(Base):
    __tablename__ = "hotspot_alerts"
    __table_args__ = (UniqueConstraint("community_id", "category_root", "window_start"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"), index=True)
    category_root: Mapped[str] = mapped_column(String(64))
    # The alert window (one per community, top-level category and window): its start.
    window_start: Mapped[datetime]
    # Its end (start + the rule setting `hotspots.window_hours` in force when it was raised); null for
    # alerts raised before the window was configurable, whose windows were 24 h.
    window_end: Mapped[datetime | None]
    count_24h: Mapped[int] = mapped_column(Integer)
    baseline_daily_mean: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    key_group: Mapped[bool]
    raised_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
