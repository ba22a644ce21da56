"""Who is calling, and which rows they may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select

from adsmanager.vocabulary import Role


@dataclass(frozen=True)
class Actor:
    """An authenticated caller: an API key (later, a signed-in person)."""

    id: str
    role: Role
    advertiser_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def sees_advertiser(self, advertiser_id: str) -> bool:
        return self.advertiser_id is None or self.advertiser_id == advertiser_id


def scoped(statement: Select, owner_column, actor: Actor) -> Select:
    """Restrict a query to the rows whose ``owner_column`` is the actor's advertiser."""
    if actor.advertiser_id is None:
        return statement
    return statement.where(owner_column == actor.advertiser_id)
