"""insert_rows: many rows in one statement, on SQLite (executemany) and on PostgreSQL (one
array per column, unnested), with the same results."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from adsmanager.db.delivery import AdEvent, DeliveryHour, ServedAd
from adsmanager.db.upsert import insert_rows
from tests.delivery_data import served_ad_row

HOUR = datetime(2026, 11, 29, 9, tzinfo=UTC)


def test_rows_round_trip(db):
    rows = [served_ad_row(n) for n in range(3)]
    table = ServedAd.__table__
    with db.transaction() as session:
        session.execute(*insert_rows(session, table, rows))
    with db.read() as session:
        stored = session.execute(select(table).order_by(table.c.impression_id)).mappings().all()
    assert [dict(row) for row in stored] == rows


def test_conflicts_update_and_return_only_what_was_inserted(db):
    table = DeliveryHour.__table__

    def add(rows: list[dict]) -> None:
        with db.transaction() as session:
            insert, parameters = insert_rows(session, table, rows)
            statement = insert.on_conflict_do_update(
                index_elements=["ad_id", "hour"],
                set_={"impressions": table.c.impressions + insert.excluded.impressions},
            )
            session.execute(statement, parameters)

    row = {
        "ad_id": "ad_1",
        "hour": HOUR,
        "ad_group_id": "adg_1",
        "campaign_id": "cmp_1",
        "advertiser_id": "adv_1",
        "impressions": 2,
        "clicks": 0,
        "spend_micros": 0,
    }
    add([row])
    add([{**row, "impressions": 5}, {**row, "ad_id": "ad_2", "impressions": 1}])
    with db.read() as session:
        counts = session.execute(select(table.c.ad_id, table.c.impressions).order_by("ad_id"))
        assert counts.all() == [("ad_1", 7), ("ad_2", 1)]

    served = ServedAd.__table__
    with db.transaction() as session:
        session.execute(*insert_rows(session, served, [served_ad_row(0)]))
    with db.transaction() as session:
        insert, parameters = insert_rows(session, served, [served_ad_row(0), served_ad_row(1)])
        statement = insert.on_conflict_do_nothing(index_elements=["impression_id"]).returning(
            served.c.impression_id
        )
        assert session.scalars(statement, parameters).all() == ["imp_1"]


def test_nulls_and_other_time_zones(db):
    tokyo = timezone(timedelta(hours=9))
    rows = [
        {
            "impression_id": f"imp_{number}",
            "event_type": "impression",
            "request_id": "req",
            "user_id": "u1",
            "ad_id": "ad_1",
            "ad_group_id": "adg_1",
            "campaign_id": "cmp_1",
            "advertiser_id": "adv_1",
            "billing_event": "CPM",
            "charge_micros": 10**15,
            "position": number,
            "occurred_at": HOUR.astimezone(tokyo),
            "received_at": HOUR,
            "posted_entry_id": None,
        }
        for number in range(2)
    ]
    table = AdEvent.__table__
    with db.transaction() as session:
        session.execute(*insert_rows(session, table, rows))
    with db.read() as session:
        stored = session.execute(
            select(table.c.occurred_at, table.c.charge_micros, table.c.posted_entry_id)
        ).all()
    assert stored == [(HOUR, 10**15, None)] * 2


def test_a_string_too_long_for_its_column_is_never_cut_short(db):
    """PostgreSQL refuses it; SQLite keeps every character (it has no length limits)."""
    long_id = "imp_" + "x" * 60  # impression_id is 40 characters
    table = ServedAd.__table__
    try:
        with db.transaction() as session:
            session.execute(*insert_rows(session, table, [served_ad_row(0, impression_id=long_id)]))
    except DBAPIError:
        assert db.engine.dialect.name == "postgresql"
        return
    with db.read() as session:
        assert session.scalars(select(table.c.impression_id)).all() == [long_id]


def test_rows_must_share_their_keys_and_be_there(db):
    rows = [served_ad_row(0), {**served_ad_row(1), "extra": 1}]
    with db.transaction() as session:
        with pytest.raises(ValueError, match="same keys"):
            insert_rows(session, ServedAd.__table__, rows)
        with pytest.raises(ValueError, match="at least one row"):
            insert_rows(session, ServedAd.__table__, [])
