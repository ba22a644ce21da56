"""What each advertiser can still spend, per worker.

The auction serves an advertiser only while its money is not used up:

    remaining = (ledger balance − unposted charges − pending refunds)
                                                       as last read from the database
              − (charges counted since that read)      from the shared spend counters

The database part comes from one SQL statement, so both terms are read from the same moment
even while the spend posting job moves money between them; it is re-read in the background
every ``balance_refresh_seconds``. The counter part closes the gap between two reads: with
Redis every worker sees every charge at once; in-process each sees its own. The counters
are read just before the database, so a charge in flight between the two is counted twice
(for one refresh) rather than missed. Advertisers without a balance account have nothing
to spend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent
from adsmanager.db.ledger import LedgerAccount
from adsmanager.services.funding import pending_refunds
from adsmanager.services.spend_posting import unposted_charges
from adsmanager.serving.background import poll_forever
from adsmanager.serving.counters import Counters
from billing.ledger import AccountKind


def load(db: Database) -> dict[str, int]:
    """Each advertiser's ledger balance less its charges not yet posted and its refunds
    still pending (promised back, as ``funding.Balance.available_micros``)."""
    unposted = (
        select(AdEvent.advertiser_id, func.sum(AdEvent.charge_micros).label("micros"))
        .where(unposted_charges())
        .group_by(AdEvent.advertiser_id)
        .subquery()
    )
    refunding = pending_refunds().subquery()
    statement = (
        select(
            LedgerAccount.owner_id,
            LedgerAccount.balance_micros
            - func.coalesce(unposted.c.micros, 0)
            - func.coalesce(refunding.c.micros, 0),
        )
        .outerjoin(unposted, unposted.c.advertiser_id == LedgerAccount.owner_id)
        .outerjoin(refunding, refunding.c.advertiser_id == LedgerAccount.owner_id)
        .where(LedgerAccount.kind == AccountKind.ADVERTISER_BALANCE.value)
    )
    with db.read() as session:
        return {owner: int(available) for owner, available in session.execute(statement)}


@dataclass(frozen=True)
class Reading:
    available: dict[str, int]
    # The spend counters just before the database was read, per advertiser.
    counted: dict[str, int]

    def funded(self, advertiser_ids: Iterable[str]) -> list[str]:
        """Those that had money at this reading: only their spend counters matter."""
        available = self.available
        return [a for a in advertiser_ids if available.get(a, 0) > 0]

    def remaining(self, advertiser_ids: Iterable[str], spent: dict[str, int]) -> dict[str, int]:
        """What each can still spend, given the counters' spend now of the funded ones."""
        remaining = dict.fromkeys(advertiser_ids, 0)
        for advertiser_id, now in spent.items():
            # Never below zero: counters that restarted empty must not add money.
            since = max(0, now - self.counted.get(advertiser_id, 0))
            remaining[advertiser_id] = self.available[advertiser_id] - since
        return remaining


class BalanceHolder:
    def __init__(
        self,
        db: Database,
        counters: Counters,
        refresh_seconds: float,
        also: Callable[[], None] | None = None,
    ) -> None:
        """``also`` runs after each background refresh, on the same thread: the in-process
        spend counters' catch-up, which on a thread of its own took each worker 2 MB more
        memory with 100,000 ad groups."""
        self._db = db
        self._counters = counters
        self._refresh_seconds = refresh_seconds
        self._also = also
        self._reading: Reading | None = None
        self._lock = threading.Lock()

    def _read(self) -> Reading:
        known = list(self._reading.available) if self._reading else []
        counted = dict(zip(known, self._counters.advertiser_spend(known), strict=True))
        available = load(self._db)
        new = [advertiser_id for advertiser_id in available if advertiser_id not in counted]
        counted.update(zip(new, self._counters.advertiser_spend(new), strict=True))
        return Reading(available, counted)

    def current(self) -> Reading:
        """The last reading of the ledger, to combine with the spend counters read now."""
        if self._reading is None:
            with self._lock:
                if self._reading is None:
                    self._reading = self._read()
                    poll_forever("balance-refresh", self._refresh_seconds, self._poll)
        return self._reading

    def refresh(self) -> None:
        self._reading = self._read()

    def _poll(self) -> None:
        self.refresh()
        if self._also is not None:
            self._also()
