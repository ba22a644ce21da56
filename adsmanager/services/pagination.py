"""Keyset pagination over time-sortable ids, with opaque page tokens."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from adsmanager.db.base import is_well_formed_id
from adsmanager.services.errors import invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_page_token: str | None


def _encode(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def _decode(token: str, valid=is_well_formed_id) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    last_id = raw.removeprefix("after:")
    if not raw.startswith("after:") or not valid(last_id):
        raise invalid("page_token", "Not a page token returned by this API.")
    return last_id


def _is_serial(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) < 19


def paginate(
    session: Session,
    statement: Select,
    id_column,
    page_size: int,
    page_token: str | None,
    is_valid_id: Callable[[str], bool] = is_well_formed_id,
) -> Page:
    """Pages in id order. Integer ids (the ledger's) page newest first. Ids of another shape
    than ours (the platform's creator ids) come with ``is_valid_id``."""
    serial = id_column.type.python_type is int
    if page_token:
        if serial:
            statement = statement.where(id_column < int(_decode(page_token, _is_serial)))
        else:
            statement = statement.where(id_column > _decode(page_token, is_valid_id))
    order = id_column.desc() if serial else id_column
    rows = list(session.scalars(statement.order_by(order).limit(page_size + 1)))
    if len(rows) <= page_size:
        return Page(rows, None)
    rows = rows[:page_size]
    return Page(rows, _encode(str(rows[-1].id)))
