"""Posting charged impressions and clicks to the ledger, in batches, each charge exactly once.

A batch takes the oldest unposted charges (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so
two posting jobs never take the same rows), groups them per advertiser, campaign and the
advertiser's local day, writes one spend entry per group, and marks each charge with its
entry, all in one transaction. A charge is either posted and marked, or neither.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent
from adsmanager.db.models import Advertiser
from adsmanager.services import ledger
from billing import ledger as rules
from billing.money import Money

BATCH_SIZE = 5_000


@dataclass(frozen=True)
class PostingResult:
    charges: int = 0
    entries: int = 0
    micros: int = 0

    def __add__(self, other: PostingResult) -> PostingResult:
        return PostingResult(
            self.charges + other.charges, self.entries + other.entries, self.micros + other.micros
        )


def unposted_charges():
    return (AdEvent.posted_entry_id.is_(None)) & (AdEvent.charge_micros > 0)


def _post_batch(db: Database, batch_size: int, now: datetime) -> PostingResult:
    with db.transaction() as session:
        charges = session.execute(
            select(
                AdEvent.id,
                AdEvent.advertiser_id,
                AdEvent.campaign_id,
                AdEvent.charge_micros,
                AdEvent.occurred_at,
            )
            .where(unposted_charges())
            .order_by(AdEvent.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not charges:
            return PostingResult()
        advertisers = {
            id_: (currency, ZoneInfo(zone))
            for id_, currency, zone in session.execute(
                select(Advertiser.id, Advertiser.currency, Advertiser.timezone).where(
                    Advertiser.id.in_({charge.advertiser_id for charge in charges})
                )
            )
        }
        groups: dict[tuple, list] = defaultdict(list)
        for charge in charges:
            zone = advertisers[charge.advertiser_id][1]
            day = charge.occurred_at.astimezone(zone).date()
            groups[(charge.advertiser_id, charge.campaign_id, day)].append(charge)
        entries, times, event_ids = [], [], []
        for (advertiser_id, campaign_id, _), group in groups.items():
            currency = advertisers[advertiser_id][0]
            amount = Money(currency, sum(charge.charge_micros for charge in group))
            entries.append(rules.spend(advertiser_id, campaign_id, amount, group[0].id))
            times.append(max(charge.occurred_at for charge in group))
            event_ids.append([charge.id for charge in group])
        posted = {p.key: p.entry_id for p in ledger.post(session, entries, times, "spend", now)}
        table = AdEvent.__table__
        marked = session.execute(
            table.update()
            .where(table.c.id == bindparam("event_id"), table.c.posted_entry_id.is_(None))
            .values(posted_entry_id=bindparam("entry_id")),
            [
                {"event_id": event_id, "entry_id": posted[entry.key]}
                for entry, ids in zip(entries, event_ids, strict=True)
                for event_id in ids
            ],
        ).rowcount
        if marked != len(charges):  # another poster got here first: post nothing of this batch
            raise RuntimeError("charges of this batch were posted concurrently")
        return PostingResult(
            len(charges), len(entries), sum(charge.charge_micros for charge in charges)
        )


def post_spend(
    db: Database,
    batch_size: int = BATCH_SIZE,
    now: Callable[[], datetime] = utcnow,
    max_batches: int | None = None,
) -> PostingResult:
    """Post every unposted charge, batch after batch; what was posted."""
    total = PostingResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        result = _post_batch(db, batch_size, now())
        if not result.charges:
            break
        total += result
        batches += 1
    return total
