"""Hot swap: activating a model reaches the serving workers without a restart; a model that
cannot load is refused and the previous one keeps serving."""

import logging
import time

from sqlalchemy import update

from adsmanager.db.ctr_models import CtrModel
from adsmanager.services import ctr_models
from adsmanager.serving.models import ModelHolder
from adsmanager.vocabulary import ModelStatus
from auction.ctr import ConstantPredictor
from tests.api.test_auction import CPM, ads_of, auction, servable
from tests.model_builders import register


def prior():
    return ConstantPredictor(0.02, version="prior")


def test_auctions_name_the_model_that_priced_them_across_a_swap(admin, acme, feed, serving, db):
    servable(admin, acme[1], **CPM)
    assert auction(feed)["model_version"] == "prior"
    model = register(db)
    ctr_models.activate(db, model.id, by="test")
    assert serving.models.refresh() is True
    response = auction(feed)
    assert response["model_version"] == model.version
    [ad] = ads_of(response)
    assert ad["pctr"] != 0.02  # priced by the model, not the prior
    assert serving.models.refresh() is False  # nothing new


def test_a_model_that_fails_to_load_is_refused_and_the_old_one_keeps_serving(db, caplog):
    good, broken = register(db, seed=1), register(db, seed=2)
    ctr_models.activate(db, good.id, by="test")
    holder = ModelHolder(db, 0, prior)
    assert holder.current().version == good.version
    # Activated behind the service's back (it would refuse): a damaged artifact.
    with db.transaction() as session:
        session.execute(
            update(CtrModel)
            .where(CtrModel.id == good.id)
            .values(status=ModelStatus.RETIRED)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(CtrModel)
            .where(CtrModel.id == broken.id)
            .values(status=ModelStatus.ACTIVE, artifact='{"format": "something else"}')
        )
    with caplog.at_level(logging.ERROR):
        assert holder.refresh() is False
    assert holder.current().version == good.version
    assert f"refused CTR model {broken.version}" in caplog.text


def test_without_an_active_model_the_fallback_serves(db):
    assert ModelHolder(db, 0, prior).current().version == "prior"


def test_an_activation_reaches_a_polling_worker_within_seconds(db):
    first, second = register(db, seed=1), register(db, seed=2)
    ctr_models.activate(db, first.id, by="test")
    holder = ModelHolder(db, 0.1, prior)
    assert holder.current().version == first.version
    ctr_models.activate(db, second.id, by="test")
    deadline = time.monotonic() + 5
    while holder.current().version != second.version and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder.current().version == second.version


def test_a_model_file_the_server_cannot_use_falls_back_to_the_prior(app, tmp_path, caplog):
    from dataclasses import replace as with_

    from adsmanager.serving.runtime import load_predictor

    stale = tmp_path / "ctr_model.txt"
    stale.write_text('{"format": "adsmanager-ctr-model/1", "feature_spec_hash": "old"}')
    settings = with_(app.extensions["adsmanager.settings"], model_path=str(stale))
    with caplog.at_level(logging.ERROR):
        assert load_predictor(settings).version == "prior"
    assert "refused the CTR model" in caplog.text
