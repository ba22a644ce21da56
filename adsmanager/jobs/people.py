"""Housekeeping for the web pages' people: sign-in attempts older than the rate limit's
window count for nothing, so they are deleted rather than kept for ever."""

from __future__ import annotations

from adsmanager.config import Settings
from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.services import users


def forget_sign_in_attempts(db: Database, settings: Settings) -> str:
    forgotten = users.forget_attempts_before(db, utcnow() - users.ATTEMPT_WINDOW)
    return f"{forgotten} sign-in attempt(s) older than the rate limit's window deleted"
