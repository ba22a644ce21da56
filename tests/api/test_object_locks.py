"""Edits that meet on PostgreSQL: a change to a parent (a budget, an archive) that another
transaction holds but has not committed is waited for, not read around."""

import threading
import time

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from adsmanager.db.models import AdGroup, Campaign
from adsmanager.vocabulary import Status
from tests.conftest import TEST_DATABASE_URL
from tests.factories import AD_GROUP, CREATIVE, make_ad_group, make_campaign

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


@pytest.mark.parametrize("other", ["archive the campaign", "edit the ad group"])
def test_an_ad_created_while_its_campaign_is_locked_does_not_deadlock(acme, db, other):
    """An ad's insert holds its ad group and checks its campaign's key; an archive or an
    ad-group edit holds the campaign and wants the ad group. With FOR UPDATE on the
    campaign that was a cycle (PostgreSQL aborted one: 503 deadlock); FOR NO KEY UPDATE
    leaves the key check free."""
    _, api = acme
    campaign = make_campaign(api)
    group = make_ad_group(api, campaign["id"])
    paused = threading.Event()

    def pause_after_the_ad_group_lock(conn, cursor, statement, *args):
        locking = "FROM ad_groups" in statement and " FOR " in statement
        if locking and not paused.is_set():
            paused.set()
            time.sleep(1.0)  # the other request takes the campaign meanwhile

    answers = {}
    requests = {
        "create": lambda: api.post(
            "/v1/ads", json={"ad_group_id": group["id"], "name": "x", "creative": CREATIVE}
        ),
        "archive the campaign": lambda: api.post(f"/v1/campaigns/{campaign['id']}/archive"),
        "edit the ad group": lambda: api.patch(
            f"/v1/ad-groups/{group['id']}", json={"bid_micros": 1_000_000}
        ),
    }
    event.listen(db.engine, "after_cursor_execute", pause_after_the_ad_group_lock)
    try:
        creating = threading.Thread(target=lambda: answers.update(create=requests["create"]()))
        creating.start()
        assert paused.wait(10)
        requests_other = threading.Thread(target=lambda: answers.update(other=requests[other]()))
        requests_other.start()
        creating.join(30)
        requests_other.join(30)
    finally:
        event.remove(db.engine, "after_cursor_execute", pause_after_the_ad_group_lock)
    codes = {name: answer.status_code for name, answer in answers.items()}
    assert set(codes) == {"create", "other"} and max(codes.values()) < 500, codes
