"""Helpers shared by the advertiser-owned objects: campaigns, ad groups and ads."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from adsmanager.db.base import is_well_formed_id
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import Conflict, FieldErrors, NotFound
from adsmanager.vocabulary import Status

T = TypeVar("T")


def load_owned(
    session: Session,
    model: type[T],
    actor: Actor,
    object_id: str,
    label: str,
    *,
    for_update: bool = False,
) -> T:
    """The object if it exists and the actor may see it; otherwise NotFound, never a hint."""
    if not is_well_formed_id(object_id):
        raise NotFound(label)
    statement = scoped(select(model).where(model.id == object_id), model.advertiser_id, actor)
    if for_update:
        # Locked, and read again: a copy this session holds may predate the lock.
        statement = statement.with_for_update(key_share=True).execution_options(
            populate_existing=True
        )
    found = session.scalar(statement)
    if found is None:
        raise NotFound(label)
    return found


def load_parent(
    session: Session,
    model: type[T],
    actor: Actor,
    object_id: str,
    field: str,
    label: str,
    errors: FieldErrors,
) -> T | None:
    """A parent named in a request body: a missing or archived parent is a field error. The
    parent stays locked until the child is saved, so an archive (which locks it too) either
    comes first and is seen, or waits and archives the child with it.

    The locks here are FOR NO KEY UPDATE (``key_share=True``): they exclude each other, but
    not the KEY SHARE locks a child's insert takes on its foreign keys. FOR UPDATE would,
    and an ad's insert (holding its ad group, checking its campaign) then deadlocked with
    an archive of that campaign (holding the campaign, updating the ad groups)."""
    statement = scoped(select(model).where(model.id == object_id), model.advertiser_id, actor)
    statement = statement.with_for_update(key_share=True)
    parent = session.scalar(statement) if is_well_formed_id(object_id) else None
    if parent is None:
        errors.add(field, f"{label} not found.")
    elif parent.status is Status.ARCHIVED:
        errors.add(field, f"{label} is archived; nothing new can be added to it.")
    return parent


def ensure_editable(obj: Any, label: str) -> None:
    if obj.status is Status.ARCHIVED:
        raise Conflict("archived", f"Archived {label}s cannot be changed.")


def apply(obj: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(obj, name, value)


def archive_children(session: Session, parent_column: str, parent_id: str, *models: type) -> None:
    for model in models:
        session.execute(
            update(model)
            .where(getattr(model, parent_column) == parent_id, model.status != Status.ARCHIVED)
            .values(status=Status.ARCHIVED)
        )


def filtered(statement: Select, model: type, **filters: Any) -> Select:
    """Add ``column == value`` for every filter that was given (not None)."""
    for name, value in filters.items():
        if value is not None:
            statement = statement.where(getattr(model, name) == value)
    return statement
