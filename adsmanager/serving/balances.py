"""What each advertiser can still spend, per worker, re-read in the background.

The auction serves an advertiser only while its ledger balance less the charges not yet
posted to the ledger is above zero. Both come from one SQL statement, so they are read from
the same moment of the database even while the spend posting job moves money between them.
Advertisers without a balance account have nothing to spend.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent
from adsmanager.db.ledger import LedgerAccount
from adsmanager.services.spend_posting import unposted_charges
from adsmanager.serving.background import poll_forever
from billing.ledger import AccountKind


def load(db: Database) -> dict[str, int]:
    unposted = (
        select(AdEvent.advertiser_id, func.sum(AdEvent.charge_micros).label("micros"))
        .where(unposted_charges())
        .group_by(AdEvent.advertiser_id)
        .subquery()
    )
    statement = (
        select(
            LedgerAccount.owner_id,
            LedgerAccount.balance_micros - func.coalesce(unposted.c.micros, 0),
        )
        .outerjoin(unposted, unposted.c.advertiser_id == LedgerAccount.owner_id)
        .where(LedgerAccount.kind == AccountKind.ADVERTISER_BALANCE.value)
    )
    with db.read() as session:
        return {owner: int(available) for owner, available in session.execute(statement)}


class BalanceHolder:
    def __init__(self, db: Database, refresh_seconds: float) -> None:
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._available: dict[str, int] | None = None
        self._lock = threading.Lock()

    def current(self) -> dict[str, int]:
        if self._available is None:
            with self._lock:
                if self._available is None:
                    self._available = load(self._db)
                    poll_forever("balance-refresh", self._refresh_seconds, self.refresh)
        return self._available

    def refresh(self) -> None:
        self._available = load(self._db)

    def remaining(self, advertiser_ids: set[str]) -> dict[str, int]:
        available = self.current()
        return {advertiser_id: available.get(advertiser_id, 0) for advertiser_id in advertiser_ids}
