"""The CTR model registry: register trained versions, list them, activate one.

Activating is a database change only: every serving worker notices the new active version
within seconds and swaps it in (``serving/models.py``), so no restart is needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adsmanager.db.base import is_well_formed_id, new_id, utcnow
from adsmanager.db.ctr_models import CtrModel
from adsmanager.db.database import Database
from adsmanager.services.errors import Conflict, NotFound
from adsmanager.services.pagination import Page, paginate
from adsmanager.vocabulary import ModelStatus
from auction.ctr import LightGBMPredictor
from auction.features import FEATURE_SPEC_HASH


def register(
    db: Database,
    model: LightGBMPredictor,
    *,
    metrics: dict[str, Any],
    training_rows: int,
    trained_from: datetime | None,
    trained_to: datetime | None,
    created_by: str | None,
) -> CtrModel:
    """Store a trained model as a candidate. The same model registered twice is one entry,
    also when two processes register it at once (a version names its content, so the
    hourly job and an admin training the same window make the same one)."""
    try:
        with db.transaction() as session:
            existing = registered(session, model.version)
            if existing is not None:
                return existing
            record = CtrModel(
                id=new_id("mdl"),
                version=model.version,
                status=ModelStatus.CANDIDATE,
                feature_spec_hash=FEATURE_SPEC_HASH,
                num_trees=model.num_trees,
                trained_from=trained_from,
                trained_to=trained_to,
                training_rows=training_rows,
                metrics=metrics,
                artifact=model.to_artifact(),
                created_by=created_by,
            )
            session.add(record)
    except IntegrityError:
        # The other registration committed between our look and our insert.
        with db.read() as session:
            existing = registered(session, model.version)
        if existing is None:
            raise
        return existing
    return record


def registered(session: Session, version: str) -> CtrModel | None:
    return session.scalar(select(CtrModel).where(CtrModel.version == version))


def _find(session: Session, model_id: str) -> CtrModel:
    record = session.get(CtrModel, model_id) if is_well_formed_id(model_id) else None
    if record is None:
        raise NotFound("Model")
    return record


def get(db: Database, model_id: str) -> CtrModel:
    with db.transaction() as session:
        return _find(session, model_id)


def list_models(
    db: Database, *, status: ModelStatus | None = None, page_size: int, page_token: str | None
) -> Page:
    statement = select(CtrModel)
    if status is not None:
        statement = statement.where(CtrModel.status == status)
    with db.transaction() as session:
        return paginate(session, statement, CtrModel.id, page_size, page_token)


def load(record: CtrModel) -> LightGBMPredictor:
    """The record's model, ready to serve; ValueError if it cannot be (another feature spec, a
    damaged artifact)."""
    return LightGBMPredictor.from_artifact(record.artifact, version=record.version)


# ``activate(..., replacing=ANY_ACTIVE)``: whichever model is active gives way.
ANY_ACTIVE = object()


def activate(
    db: Database, model_id: str, *, by: str | None, replacing: object = ANY_ACTIVE
) -> CtrModel:
    """Make the model the one the auction serves; the previously active one is retired.
    A retired model can be activated again (a rollback). A model that cannot be loaded is
    refused, and the active one stays. ``replacing`` (an id, or None for "no model active")
    is the model a challenger was compared with: if another one is active by the time it
    would take over (an admin's activation, another training run), Conflict
    ``active_model_changed`` and nothing changes."""
    try:
        return _activate(db, model_id, by, replacing)
    except IntegrityError:
        # Another activation committed first: the unique index kept one model active.
        raise Conflict(
            "activation_conflict", "Another model was activated at the same time; try again."
        ) from None


def _activate(db: Database, model_id: str, by: str | None, replacing: object) -> CtrModel:
    with db.transaction() as session:
        record = _find(session, model_id)
        if record.status is ModelStatus.ACTIVE:
            return record
        try:
            load(record)
        except ValueError as error:
            raise Conflict("model_unusable", f"This model cannot serve: {error}") from None
        now = utcnow()
        current = session.scalar(
            select(CtrModel).where(CtrModel.status == ModelStatus.ACTIVE).with_for_update()
        )
        if replacing is not ANY_ACTIVE and (current.id if current else None) != replacing:
            raise Conflict(
                "active_model_changed",
                "Another model became active after this one was compared with the active "
                "model; compare it again.",
            )
        if current is not None:
            current.status = ModelStatus.RETIRED
            current.retired_at = now
            # The retirement must reach the database before the activation: one active only.
            session.flush()
        record.status = ModelStatus.ACTIVE
        record.activated_at = now
        record.activated_by = by
        record.retired_at = None
        return record


def active(db: Database) -> CtrModel | None:
    with db.read() as session:
        return session.scalar(select(CtrModel).where(CtrModel.status == ModelStatus.ACTIVE))


def active_version(db: Database) -> str | None:
    """Cheap: what the serving workers poll."""
    with db.read() as session:
        return session.scalar(select(CtrModel.version).where(CtrModel.status == ModelStatus.ACTIVE))
