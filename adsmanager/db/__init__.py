"""Persistence: SQLAlchemy metadata and models, the engine/session handle, migrations."""

from adsmanager.db import (
    creator_fund,
    ctr_models,
    delivery,
    funding,
    jobs,
    ledger,
    models,
    users,
)
from adsmanager.db.base import Base
from adsmanager.db.database import Database

metadata = Base.metadata

__all__ = [
    "Base",
    "Database",
    "creator_fund",
    "ctr_models",
    "delivery",
    "funding",
    "jobs",
    "ledger",
    "metadata",
    "models",
    "users",
]
