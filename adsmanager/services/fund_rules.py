"""The creator fund's programme rules, as numbered versions: a change writes a new version,
and each payout run names the version it was computed with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adsmanager.db.creator_fund import FundRules, PayoutRun
from adsmanager.db.database import Database
from adsmanager.db.upsert import insert_for
from adsmanager.services.access import Actor
from adsmanager.services.errors import InvalidInput, NotFound
from adsmanager.services.reference import currency_codes
from adsmanager.vocabulary import PayoutRunStatus
from billing.fund_rules import InvalidRules, Rules


@dataclass(frozen=True)
class RulesVersion:
    version: int
    rules: Rules
    note: str | None
    created_at: datetime
    created_by: str | None


def _version(row: FundRules) -> RulesVersion:
    return RulesVersion(
        row.version, Rules.from_dict(row.rules), row.note, row.created_at, row.created_by
    )


def latest(session: Session, now: datetime, lock: bool = False) -> RulesVersion:
    """The rules in force, writing the defaults as version 1 on first use. With ``lock``,
    the row is locked: computing and approving runs take it, so they happen one at a time."""
    statement = select(FundRules).order_by(FundRules.version.desc()).limit(1)
    row = session.scalar(statement.with_for_update() if lock else statement)
    if row is None:
        # Two first uses at once both try; the primary key lets one in.
        session.execute(
            insert_for(session, FundRules).on_conflict_do_nothing(index_elements=["version"]),
            [
                {
                    "version": 1,
                    "rules": Rules().to_dict(),
                    "note": "programme defaults",
                    "created_at": now,
                }
            ],
        )
        row = session.scalar(statement.with_for_update() if lock else statement)
    return _version(row)


def lock_programme(session: Session, now: datetime) -> None:
    """Computing, approving and deleting runs take this lock, so they happen one at a time:
    the row of version 1, which never changes (the newest version would not do: a new
    version could be written while others wait for the old one)."""
    latest(session, now)
    session.execute(select(FundRules.version).where(FundRules.version == 1).with_for_update())


def current(db: Database, now: datetime) -> RulesVersion:
    with db.transaction() as session:
        return latest(session, now)


def versions(db: Database, now: datetime) -> list[RulesVersion]:
    with db.transaction() as session:
        latest(session, now)  # the defaults are version 1
        rows = session.scalars(select(FundRules).order_by(FundRules.version.desc()))
        return [_version(row) for row in rows]


def get_in(session: Session, version: int) -> Rules:
    row = session.get(FundRules, version)
    if row is None:
        raise NotFound("Fund rules version")
    return Rules.from_dict(row.rules)


def get(db: Database, version: int) -> RulesVersion:
    with db.read() as session:
        row = session.get(FundRules, version)
        if row is None:
            raise NotFound("Fund rules version")
        return _version(row)


def change(
    db: Database, changes: dict[str, Any], note: str | None, actor: Actor, now: datetime
) -> RulesVersion:
    """A new version: the rules in force with ``changes`` applied."""
    with db.transaction() as session:
        before = latest(session, now, lock=True)
        try:
            rules = Rules.from_dict(before.rules.to_dict() | changes)
        except InvalidRules as error:
            path = f"rules.{error.rule}" if error.rule else "rules"
            raise InvalidInput({path: [str(error)]}) from None
        if rules.currency != before.rules.currency:
            # Approving takes the programme lock and refuses a draft of another currency
            # than the rules in force: holding it here, no approval can slip in between
            # this check and this commit. (Lock order: the newest version, then version 1;
            # those holding version 1 never wait for another version.)
            lock_programme(session, now)
            _check_currency_change(session, rules.currency)
        row = FundRules(
            version=before.version + 1,
            rules=rules.to_dict(),
            note=note,
            created_at=now,
            created_by=actor.id,
        )
        session.add(row)
        session.flush()
        return _version(row)


def _check_currency_change(session: Session, currency: str) -> None:
    """Balances carried over are kept in the programme's currency: it may change only before
    the first run is approved (and a draft of the old currency is then refused approval)."""
    if currency not in currency_codes():
        raise InvalidInput({"rules.currency": [f"{currency} is not an ISO 4217 code."]})
    approved = session.scalar(
        select(PayoutRun.id).where(PayoutRun.status != PayoutRunStatus.DRAFT).limit(1)
    )
    if approved is not None:
        raise InvalidInput(
            {"rules.currency": ["The currency cannot change once a payout run was approved."]}
        )
