"""People who sign in to the web pages, and their sign-in attempts.

A user is an advertiser's person (bound to one advertiser) or a platform person (admin,
finance). The feed service is a machine and holds an API key, never a user.
Attempts are rows, not process memory, so the sign-in rate limit holds across workers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from adsmanager.db.base import Base, UTCDateTime, utcnow
from adsmanager.db.ledger import BIG_ID
from adsmanager.db.models import ID, enum_column
from adsmanager.vocabulary import Role

EMAIL = String(254)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'advertiser') = (advertiser_id IS NOT NULL)", name="advertiser_role_bound"
        ),
        CheckConstraint("role <> 'feed'", name="person_role"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    email: Mapped[str] = mapped_column(EMAIL, unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    advertiser_id: Mapped[str | None] = mapped_column(ForeignKey("advertisers.id"), index=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept in the session cookie; bumping it (disabling, a new password) ends every session.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInAttempt(Base):
    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_email_at", "email", "at"),
        Index("ix_sign_in_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(EMAIL)  # as typed, lower-cased; may name no user
    ip: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
