"""Impressions and clicks reported by the feed service, each charged at most once.

A batch is verified token by token; the good ones are inserted with ON CONFLICT DO NOTHING
on (impression_id, event_type), so a duplicate — in the batch, from an earlier batch, or
from a concurrent request — is recognised by the database and charges nothing. The new ones
are rolled up per ad and hour in the same transaction, then added to the shared counters
that budgets and pacing read.

Every statement of that transaction takes its row locks in one canonical order, not the
batch's: the events sorted by (impression_id, event_type), the hourly rows by (ad_id,
hour). Two workers reporting the same ads (or retrying the same events) in different
orders would otherwise each lock a row the other waits for, and PostgreSQL would abort one
of them with a deadlock. The results still follow the batch's order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from adsmanager.db.database import Database
from adsmanager.db.delivery import AdEvent, DeliveryHour, delivery_hour
from adsmanager.db.models import Advertiser
from adsmanager.db.upsert import insert_rows
from adsmanager.serving.counters import Charge, Counters, SpendKey
from auction.tokens import IMPRESSION, InvalidToken, TokenSigner, TrackedEvent

log = logging.getLogger(__name__)

ACCEPTED, DUPLICATE, INVALID = "accepted", "duplicate", "invalid"


@dataclass(frozen=True)
class EventResult:
    status: str
    reason: str | None = None
    event_type: str | None = None
    impression_id: str | None = None
    charged_micros: int = 0


def _rollup(events: list[TrackedEvent], at: datetime) -> list[dict]:
    """One row per (ad_id, hour), sorted by that key: the order the upsert locks them in."""
    hour = delivery_hour(at)
    rows: dict[str, dict] = {}
    for event in events:
        row = rows.setdefault(
            event.ad_id,
            {
                "ad_id": event.ad_id,
                "hour": hour,
                "ad_group_id": event.ad_group_id,
                "campaign_id": event.campaign_id,
                "advertiser_id": event.advertiser_id,
                "impressions": 0,
                "clicks": 0,
                "spend_micros": 0,
            },
        )
        row["impressions" if event.event_type == IMPRESSION else "clicks"] += 1
        row["spend_micros"] += event.charge_micros
    return sorted(rows.values(), key=lambda row: (row["ad_id"], row["hour"]))


def _record(session, events: list[TrackedEvent], now: datetime) -> set[tuple[str, str]]:
    """Insert the events, sorted by (impression_id, event_type): the order their unique
    index entries are locked in. The (impression_id, event_type) pairs that were new."""
    table = AdEvent.__table__
    rows = [
        {
            "impression_id": e.impression_id,
            "event_type": e.event_type,
            "request_id": e.request_id,
            "user_id": e.user_id,
            "ad_id": e.ad_id,
            "ad_group_id": e.ad_group_id,
            "campaign_id": e.campaign_id,
            "advertiser_id": e.advertiser_id,
            "billing_event": e.billing_event,
            "charge_micros": e.charge_micros,
            "position": e.position,
            "occurred_at": now,
            "received_at": now,
        }
        for e in sorted(events, key=lambda e: (e.impression_id, e.event_type))
    ]
    insert, parameters = insert_rows(session, table, rows)
    statement = insert.on_conflict_do_nothing(
        index_elements=["impression_id", "event_type"]
    ).returning(table.c.impression_id, table.c.event_type)
    return {tuple(row) for row in session.execute(statement, parameters)}


def _add_to_delivery(session, events: list[TrackedEvent], now: datetime) -> None:
    rows = _rollup(events, now)
    if not rows:
        return
    table = DeliveryHour.__table__
    insert, parameters = insert_rows(session, table, rows)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["ad_id", "hour"],
            set_={
                name: table.c[name] + insert.excluded[name]
                for name in ("impressions", "clicks", "spend_micros")
            },
        ),
        parameters,
    )


def _charges(session, events: list[TrackedEvent], now: datetime) -> list[Charge]:
    advertiser_ids = {event.advertiser_id for event in events}
    zones = dict(
        session.execute(
            select(Advertiser.id, Advertiser.timezone).where(Advertiser.id.in_(advertiser_ids))
        ).all()
    )
    charges = []
    for event in events:
        day = now.astimezone(ZoneInfo(zones.get(event.advertiser_id, "UTC"))).date()
        viewer = (event.user_id, event.impression_id) if event.event_type == IMPRESSION else None
        charges.append(
            Charge(
                SpendKey(event.ad_group_id, event.campaign_id, day),
                event.charge_micros,
                now,
                viewer,
                event.advertiser_id,
            )
        )
    return charges


# The longest text each event column holds. A genuine token never exceeds them, but one our
# own signer made from an input the auction should have refused (a request id of 128
# characters and a newline, before input patterns matched whole values) must be refused as
# malformed rather than fail the whole batch at the insert.
_TEXT_LIMITS = {
    column.name: column.type.length
    for column in AdEvent.__table__.columns
    if getattr(column.type, "length", None) and column.name in TrackedEvent.__dataclass_fields__
}


def _storable(event: TrackedEvent) -> bool:
    return all(
        isinstance(value := getattr(event, name), str) and len(value) <= limit
        for name, limit in _TEXT_LIMITS.items()
    )


def ingest(
    db: Database, counters: Counters, signer: TokenSigner, tokens: list[str], now: datetime
) -> list[EventResult]:
    results: list[EventResult | None] = [None] * len(tokens)
    verified: dict[tuple[str, str], tuple[int, TrackedEvent]] = {}
    for index, token in enumerate(tokens):
        try:
            event = signer.verify(token, now.timestamp())
        except InvalidToken as error:
            results[index] = EventResult(INVALID, reason=error.reason)
            continue
        if not _storable(event):
            results[index] = EventResult(INVALID, reason="malformed")
            continue
        key = (event.impression_id, event.event_type)
        if key in verified:
            results[index] = EventResult(
                DUPLICATE, event_type=event.event_type, impression_id=event.impression_id
            )
        else:
            verified[key] = (index, event)
    new: set[tuple[str, str]] = set()
    if verified:
        with counters.charging():
            with db.transaction() as session:
                new = _record(session, [event for _, event in verified.values()], now)
                accepted = [event for key, (_, event) in verified.items() if key in new]
                _add_to_delivery(session, accepted, now)
                charges = _charges(session, accepted, now)
            try:
                counters.add(charges)
            except Exception:
                # The events are recorded and will be paid for: answer so. A 500 would have
                # the feed service retry, and the retry would find only duplicates. The
                # counters lag until they are raised to the recorded spend (Redis: when a
                # serving process starts).
                log.exception("the spend counters missed %d accepted charges", len(charges))
    for key, (index, event) in verified.items():
        is_new = key in new
        results[index] = EventResult(
            ACCEPTED if is_new else DUPLICATE,
            event_type=event.event_type,
            impression_id=event.impression_id,
            charged_micros=event.charge_micros if is_new else 0,
        )
    return results
