"""Replay over HTTP: the sampled auctions of the logs, scored by a candidate and the active
model."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adsmanager.db.delivery import AuctionLog
from adsmanager.services import ctr_models, demo, training
from auction import simulator
from tests.services.conftest import START


@pytest.fixture
def every_auction_logged(db, serving):
    serving.settings = replace(serving.settings, auction_log_sample_rate=1.0)
    demo.seed_market(db, simulator.make_market(6, 3, seed=4, now=START))
    serving.snapshots.refresh()
    demo.simulate_traffic(
        db, serving, requests=600, users=200, seed=4, start=START, duration=timedelta(hours=12)
    )
    serving.logs.flush()


def test_a_candidate_is_replayed_against_the_active_model(admin, db, every_auction_logged):
    first = training.train_and_register(db, num_trees=30, auto_activate=False)
    second = training.train_and_register(db, num_trees=80, auto_activate=False)
    assert first.model_id != second.model_id
    response = admin.get(f"/v1/models/{second.model_id}/replay")
    assert response.status_code == 409 and response.json["code"] == "no_active_model"
    ctr_models.activate(db, first.model_id, by="test")
    with db.read() as session:
        logged = session.scalar(select(func.count()).select_from(AuctionLog))
    response = admin.get(f"/v1/models/{second.model_id}/replay")
    assert response.status_code == 200, response.json
    report = response.json
    assert report["active_model_id"] == first.model_id
    assert 0 < report["auctions"] <= logged
    assert report["active"]["impressions"] > 0 and report["candidate"]["impressions"] > 0
    assert report["changed_auctions"] > 0  # two different models price some pages apart
    # The active model replayed against itself changes nothing.
    same = admin.get(f"/v1/models/{first.model_id}/replay").json
    assert same["changed_auctions"] == 0 and same["revenue_change"] == 0.0
    # A window with no auctions replays nothing.
    empty = admin.get(
        f"/v1/models/{second.model_id}/replay", query_string={"until": "2001-01-01T00:00:00Z"}
    ).json
    assert empty["auctions"] == 0 and empty["revenue_change"] is None


def test_a_model_that_cannot_load_is_a_409_not_a_500(admin, db):
    from sqlalchemy import update

    from adsmanager.db.ctr_models import CtrModel
    from tests.model_builders import register

    good, broken = register(db, seed=1), register(db, seed=2)
    ctr_models.activate(db, good.id, by="test")
    with db.transaction() as session:
        session.execute(
            update(CtrModel).where(CtrModel.id == broken.id).values(artifact="not a model")
        )
    response = admin.get(f"/v1/models/{broken.id}/replay")
    assert response.status_code == 409 and response.json["code"] == "model_unusable"


def test_auctions_logged_under_another_feature_spec_are_not_replayed(db, every_auction_logged):
    from sqlalchemy import update

    from adsmanager.services.replay import logged_auctions
    from auction import features

    everything = len(logged_auctions(db, None, None))
    with db.transaction() as session:
        ids = session.scalars(select(AuctionLog.id).order_by(AuctionLog.id)).all()
        assert set(session.scalars(select(AuctionLog.feature_spec))) == {features.FEATURE_SPEC_HASH}
        session.execute(
            update(AuctionLog).where(AuctionLog.id.in_(ids[::2])).values(feature_spec=None)
        )
        session.execute(
            update(AuctionLog)
            .where(AuctionLog.id.in_(ids[1::4]))
            .values(feature_spec=features.feature_spec_hash(("v3",)))
        )
    kept = len(logged_auctions(db, None, None))
    assert 0 < kept < everything
    assert kept <= len(ids) - len(ids[::2]) - len(ids[1::4])
