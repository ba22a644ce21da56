"""Edits that meet on PostgreSQL: a change to a parent (a budget, an archive) that another
transaction holds but has not committed is waited for, not read around."""

import threading
import time

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adsmanager.db.models import AdGroup, Campaign
from adsmanager.vocabulary import Status
from tests.conftest import TEST_DATABASE_URL
from tests.factories import AD_GROUP, make_ad_group, make_campaign

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ADSMANAGER_TEST_DATABASE_URL (SQLite has one writer)",
)


def _while_uncommitted(db, change, request):
    """Run ``change`` in a transaction of its own and, while it is open and holds its row
    locks, send ``request`` from another thread; commit, and return the request's answer.
    Without a lock on the parent, the request reads the committed row and is answered at
    once; with one, it waits for the commit and sees the change."""
    answers = []
    with Session(db.engine) as session, session.begin():
        session.execute(change)
        worker = threading.Thread(target=lambda: answers.append(request()))
        worker.start()
        time.sleep(0.5)  # long enough for the request to reach the lock (or pass it)
    worker.join(timeout=30)
    assert answers, "the request never finished"
    return answers[0]


def test_a_bid_is_checked_against_the_budget_being_committed(acme, db):
    _, api = acme
    campaign = make_campaign(api, budget_micros=10_000_000)
    group = make_ad_group(api, campaign["id"], billing_event="CPC", bid_micros=1_000_000)
    response = _while_uncommitted(
        db,
        update(Campaign).where(Campaign.id == campaign["id"]).values(budget_micros=2_000_000),
        lambda: api.patch(f"/v1/ad-groups/{group['id']}", json={"bid_micros": 9_000_000}),
    )
    assert response.status_code == 422, response.json
    assert "bid_micros" in response.json["fields"]
    with db.read() as session:
        assert session.scalar(select(AdGroup.bid_micros)) == 1_000_000


def test_an_ad_group_is_not_added_to_a_campaign_being_archived(acme, db):
    _, api = acme
    campaign = make_campaign(api)
    response = _while_uncommitted(
        db,
        update(Campaign).where(Campaign.id == campaign["id"]).values(status=Status.ARCHIVED),
        lambda: api.post("/v1/ad-groups", json={**AD_GROUP, "campaign_id": campaign["id"]}),
    )
    assert response.status_code == 422, response.json
    assert "archived" in response.json["fields"]["campaign_id"][0]
    with db.read() as session:
        assert session.scalars(select(AdGroup)).all() == []
