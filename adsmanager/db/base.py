"""Declarative base with a constraint naming convention, and shared column types."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# JSON on SQLite, JSONB on PostgreSQL.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC as a naive timestamp and always hands back an aware UTC datetime.

    SQLite keeps no time zone, so storing naive UTC everywhere gives one behaviour
    on both databases.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# What an id may look like: ours (prefix + 26 characters) and those of imported or simulated
# data (``adv_sim_0001``). Anything else cannot name a stored row and needs no lookup.
_ID_SHAPE = re.compile(r"^[a-z]{2,4}_[0-9a-z_]{1,35}\Z")  # \Z: "$" allows a final "\n"


def new_id(prefix: str) -> str:
    """An opaque id that sorts by creation time: ``prefix_`` + 48-bit ms time + 80 random bits."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


def is_well_formed_id(value: str) -> bool:
    """Whether ``value`` could be the id of a stored row."""
    return bool(_ID_SHAPE.match(value))
