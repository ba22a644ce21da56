"""People who sign in: accounts, password checks and the sign-in rate limit.

Passwords are hashed with scrypt (the standard library's ``hashlib.scrypt``) in Werkzeug's
``generate_password_hash`` format and parameters (``scrypt:32768:8:1$salt$hex``), so
``werkzeug.security.check_password_hash`` reads our hashes and the reverse. Werkzeug itself
is not imported: services know nothing of HTTP (an import-linter contract).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adsmanager.db.base import is_well_formed_id, new_id
from adsmanager.db.database import Database
from adsmanager.db.models import Advertiser
from adsmanager.db.users import SignInAttempt, User
from adsmanager.services.access import Actor
from adsmanager.services.errors import FieldErrors, NotFound, ServiceError
from adsmanager.vocabulary import Role

PERSON_ROLES = (Role.ADVERTISER, Role.ADMIN, Role.FINANCE)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte on every attempt is not a feature
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
ATTEMPT_WINDOW = timedelta(minutes=15)

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+\Z")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class TooManyAttempts(ServiceError):
    """Too many failed sign-ins for this email or from this address: wait, then try again."""

    code = "too_many_attempts"

    def __init__(self) -> None:
        minutes = int(ATTEMPT_WINDOW.total_seconds() // 60)
        super().__init__(f"Too many failed sign-in attempts. Try again in {minutes} minutes.")


# --- passwords ---------------------------------------------------------------------------


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
    ).hex()


def hash_password(password: str) -> str:
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(16))
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt:{_SCRYPT_N}:{_SCRYPT_R}:{_SCRYPT_P}${salt}${digest}"


def password_matches(stored: str, password: str) -> bool:
    try:
        method, salt, digest = stored.split("$", 2)
        name, n, r, p = method.split(":")
        if name != "scrypt":
            return False
        computed = _scrypt(password, salt, int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(computed, digest)


# Checked against when the email names no user, so an unknown email costs the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# --- accounts ----------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    return email.strip().lower()


def actor_for(user: User) -> Actor:
    return Actor(id=user.id, role=user.role, advertiser_id=user.advertiser_id)


def create_user(
    db: Database,
    email: str,
    password: str,
    role: Role | str,
    advertiser_id: str | None,
    now: datetime,
) -> User:
    email = normalise_email(email)
    errors = FieldErrors()
    if len(email) > 254 or not _EMAIL_SHAPE.match(email):
        errors.add("email", "Enter an email address like name@example.com.")
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.add("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add("password", f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if role not in PERSON_ROLES:
        errors.add("role", f"A person's role is one of {', '.join(PERSON_ROLES)}.")
    elif role == Role.ADVERTISER and not advertiser_id:
        errors.add("advertiser_id", "An advertiser's user needs an advertiser.")
    elif role != Role.ADVERTISER and advertiser_id:
        errors.add("advertiser_id", f"A {role} user is not bound to an advertiser.")
    errors.raise_if_any()
    password_hash = hash_password(password)  # slow: outside the transaction
    with db.transaction() as session:
        if advertiser_id is not None and session.get(Advertiser, advertiser_id) is None:
            errors.add("advertiser_id", "Advertiser not found.")
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            errors.add("email", "A user with this email exists.")
        errors.raise_if_any()
        user = User(
            id=new_id("usr"),
            email=email,
            password_hash=password_hash,
            role=Role(role),
            advertiser_id=advertiser_id,
            disabled=False,
            session_version=1,
            created_at=now,
        )
        session.add(user)
        session.flush()
        return user


def list_users(db: Database) -> list[User]:
    with db.read() as session:
        return list(session.scalars(select(User).order_by(User.email)))


def get_by_email(db: Database, email: str) -> User:
    with db.read() as session:
        user = session.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            raise NotFound("User")
        return user


def set_disabled(db: Database, user_id: str, disabled: bool) -> User:
    """Disabling ends every session of the user at their next request."""
    with db.transaction() as session:
        user = session.get(User, user_id) if is_well_formed_id(user_id) else None
        if user is None:
            raise NotFound("User")
        if user.disabled != disabled:
            user.disabled = disabled
            user.session_version += 1
        return user


def end_sessions(db: Database, user_id: object, session_version: object) -> None:
    """Signing out: every session of the user ends, this one and any copy of its cookie (a
    session is a signed cookie; only the version it names can be taken back). A stale
    session's sign-out changes nothing."""
    if not isinstance(user_id, str) or not is_well_formed_id(user_id):
        return
    with db.transaction() as session:
        user = session.get(User, user_id, with_for_update=True)
        if user is not None and user.session_version == session_version:
            user.session_version += 1


@dataclass(frozen=True)
class SignedIn:
    """Who a session belongs to, as read on each request."""

    actor: Actor
    email: str
    session_version: int


def _signed_in(user: User) -> SignedIn:
    return SignedIn(actor_for(user), user.email, user.session_version)


def session_user(db: Database, user_id: str, session_version: int) -> SignedIn | None:
    """The user a session names, or None when it no longer holds (disabled, version bumped,
    deleted). One primary-key read per request."""
    if not isinstance(user_id, str) or not is_well_formed_id(user_id):
        return None
    with db.read() as session:
        user = session.get(User, user_id)
        if user is None or user.disabled or user.session_version != session_version:
            return None
        return _signed_in(user)


# --- signing in ----------------------------------------------------------------------------


def _recent_failures(session: Session, column, value: str, since: datetime) -> int:
    statement = select(func.count()).where(
        column == value, SignInAttempt.at >= since, SignInAttempt.succeeded.is_(False)
    )
    return session.scalar(statement) or 0


def sign_in(db: Database, email: str, password: str, ip: str, now: datetime) -> SignedIn | None:
    """The user for this email and password, or None; raises :class:`TooManyAttempts` after
    too many recent failures for the email (since its last success) or from the address.

    The attempt is recorded as failed *before* the slow password check, so concurrent
    guesses in other workers count at once, and the check holds no transaction open."""
    email = normalise_email(email)[:254]
    ip = (ip or "unknown")[:45]
    since = now - ATTEMPT_WINDOW
    with db.transaction() as session:
        last_success = session.scalar(
            select(func.max(SignInAttempt.at)).where(
                SignInAttempt.email == email, SignInAttempt.succeeded.is_(True)
            )
        )
        email_since = max(since, last_success) if last_success else since
        if (
            _recent_failures(session, SignInAttempt.email, email, email_since)
            >= MAX_FAILURES_PER_EMAIL
            or _recent_failures(session, SignInAttempt.ip, ip, since) >= MAX_FAILURES_PER_IP
        ):
            raise TooManyAttempts()
        attempt = SignInAttempt(email=email, ip=ip, at=now, succeeded=False)
        session.add(attempt)
        user = session.scalar(select(User).where(User.email == email))
        stored = user.password_hash if user is not None and not user.disabled else None
    if not password_matches(stored or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH]) or not stored:
        return None
    with db.transaction() as session:
        session.get(SignInAttempt, attempt.id).succeeded = True
        user = session.get(User, user.id)
        if user is None or user.disabled:
            return None
        user.last_sign_in_at = now
        return _signed_in(user)


def authenticate(db: Database, email: str, password: str, ip: str, now: datetime) -> Actor | None:
    """:func:`sign_in` for callers that need only the actor."""
    signed_in = sign_in(db, email, password, ip, now)
    return signed_in.actor if signed_in else None


def forget_attempts_before(db: Database, before: datetime) -> int:
    """Delete attempts older than ``before`` (they no longer count); returns how many."""
    with db.transaction() as session:
        result = session.execute(SignInAttempt.__table__.delete().where(SignInAttempt.at < before))
        return result.rowcount or 0
