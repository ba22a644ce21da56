"""The registry of CTR model versions: what each was trained on, how good it is, and the
artifact the auction loads. At most one version is active at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, JSONDocument, UTCDateTime, utcnow
from adsmanager.db.models import ID, enum_column
from adsmanager.vocabulary import ModelStatus


class CtrModel(Base):
    __tablename__ = "ctr_models"
    __table_args__ = (
        # The database, not the code, guarantees a single active model.
        Index(
            "uq_ctr_models_one_active",
            "status",
            unique=True,
            sqlite_where=text(f"status = '{ModelStatus.ACTIVE.value}'"),
            postgresql_where=text(f"status = '{ModelStatus.ACTIVE.value}'"),
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[ModelStatus] = mapped_column(enum_column(ModelStatus, "ctr_model_status"))
    feature_spec_hash: Mapped[str] = mapped_column(String(64))
    num_trees: Mapped[int]
    trained_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trained_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    training_rows: Mapped[int] = mapped_column(BigInteger)
    # The evaluation report on the held-out rows (see services/ctr_models.py).
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    artifact: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_by: Mapped[str | None] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
