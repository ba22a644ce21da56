"""API keys: issued once, stored as a hash, found by a public prefix, revocable.

A key reads ``am_<prefix>_<secret>``. Keys are 256 random bits, so a single SHA-256
is the right hash: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from adsmanager.db.base import is_well_formed_id, new_id, utcnow
from adsmanager.db.database import Database
from adsmanager.db.models import Advertiser, ApiKey
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import NotFound, invalid
from adsmanager.services.pagination import Page, paginate
from adsmanager.vocabulary import Role

KEY_SCHEME = "am"
_PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class IssuedKey:
    """A key as it is handed out: the only moment its secret is known."""

    record: ApiKey
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(
    session: Session,
    *,
    role: Role,
    advertiser_id: str | None,
    name: str,
    created_by: str | None,
) -> IssuedKey:
    """Add a key inside the caller's transaction."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    record = ApiKey(
        id=new_id("key"),
        prefix=prefix,
        secret_hash=_hash(secret),
        role=role,
        advertiser_id=advertiser_id,
        name=name,
        created_by=created_by,
    )
    session.add(record)
    session.flush()
    return IssuedKey(record, f"{KEY_SCHEME}_{prefix}_{secret}")


def create(
    db: Database, actor: Actor, *, role: Role, advertiser_id: str | None, name: str
) -> IssuedKey:
    if actor.advertiser_id is not None:
        if role is not Role.ADVERTISER:
            raise invalid("role", "Advertisers may only create advertiser keys.")
        advertiser_id = advertiser_id or actor.advertiser_id
    if role is Role.ADVERTISER and not advertiser_id:
        raise invalid("advertiser_id", "An advertiser key needs an advertiser_id.")
    if role is not Role.ADVERTISER and advertiser_id:
        raise invalid("advertiser_id", f"A {role} key is not bound to an advertiser.")
    with db.transaction() as session:
        if advertiser_id is not None:
            advertiser = session.get(Advertiser, advertiser_id)
            if advertiser is None or not actor.sees_advertiser(advertiser_id):
                raise invalid("advertiser_id", "Advertiser not found.")
        return issue(
            session, role=role, advertiser_id=advertiser_id, name=name, created_by=actor.id
        )


def authenticate(db: Database, presented: str, touch_interval: timedelta) -> Actor | None:
    """The actor behind a presented key, or None for an unknown, malformed or revoked key."""
    scheme, _, rest = presented.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(prefix) != 12 or not secret or not prefix.isalnum():
        return None
    with db.transaction() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
            return None
        if key.revoked_at is not None:
            return None
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= touch_interval:
            key.last_used_at = now
        return Actor(id=key.id, role=key.role, advertiser_id=key.advertiser_id)


def _visible(session: Session, actor: Actor, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id) if is_well_formed_id(key_id) else None
    if key is None or (
        actor.advertiser_id is not None and key.advertiser_id != actor.advertiser_id
    ):
        raise NotFound("API key")
    return key


def get(db: Database, actor: Actor, key_id: str) -> ApiKey:
    with db.transaction() as session:
        return _visible(session, actor, key_id)


def list_keys(
    db: Database,
    actor: Actor,
    *,
    role: Role | None = None,
    advertiser_id: str | None = None,
    page_size: int,
    page_token: str | None,
) -> Page:
    statement = scoped(select(ApiKey), ApiKey.advertiser_id, actor)
    if role is not None:
        statement = statement.where(ApiKey.role == role)
    if advertiser_id is not None:
        statement = statement.where(ApiKey.advertiser_id == advertiser_id)
    with db.transaction() as session:
        return paginate(session, statement, ApiKey.id, page_size, page_token)


def revoke(db: Database, actor: Actor, key_id: str) -> ApiKey:
    """Revoking is idempotent: a revoked key stays revoked at its first revocation time."""
    with db.transaction() as session:
        key = _visible(session, actor, key_id)
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        return key


def active_admin_key_exists(db: Database) -> bool:
    with db.transaction() as session:
        statement = select(ApiKey.id).where(ApiKey.role == Role.ADMIN, ApiKey.revoked_at.is_(None))
        return session.scalar(statement.limit(1)) is not None


class Authenticator:
    """:func:`authenticate` with a short memory: a key seen in the last ``ttl`` seconds is
    not looked up again, so the auction's hot path does not touch the database.

    A revocation therefore reaches other processes within ``ttl``; in this process it is
    immediate (call :meth:`forget`)."""

    MAX_ENTRIES = 10_000

    def __init__(self, db: Database, touch_interval: timedelta, ttl_seconds: float) -> None:
        self._db = db
        self._touch_interval = touch_interval
        self._ttl = ttl_seconds
        self._seen: dict[str, tuple[float, Actor]] = {}

    def __call__(self, presented: str) -> Actor | None:
        fingerprint = _hash(presented)
        hit = self._seen.get(fingerprint)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        actor = authenticate(self._db, presented, self._touch_interval)
        if actor is not None and self._ttl > 0:
            if len(self._seen) >= self.MAX_ENTRIES:
                self._seen.clear()
            self._seen[fingerprint] = (time.monotonic() + self._ttl, actor)
        return actor

    def forget(self) -> None:
        self._seen.clear()
