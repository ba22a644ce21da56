"""The CTR model registry over HTTP: list, get, activate, the reliability diagram."""

from sqlalchemy import update

from adsmanager.db.ctr_models import CtrModel
from tests.model_builders import register


def test_models_are_listed_with_their_evaluation(admin, db):
    first, second = register(db, seed=1), register(db, seed=2)
    response = admin.get("/v1/models")
    assert response.status_code == 200
    assert [m["id"] for m in response.json["items"]] == [first.id, second.id]
    listed = response.json["items"][0]
    assert listed["status"] == "candidate"
    assert listed["version"] == first.version and listed["num_trees"] == 5
    assert listed["staleness_seconds"] > 0  # trained on data from November 2026
    assert 0.5 < listed["metrics"]["model"]["auc"] <= 1
    assert admin.get("/v1/models", query_string={"status": "active"}).json["items"] == []


def test_registering_the_same_model_twice_keeps_one_entry(db, admin):
    assert register(db, seed=3).id == register(db, seed=3).id
    assert len(admin.get("/v1/models").json["items"]) == 1


def test_the_same_model_registered_at_the_same_moment_is_one_entry(db, monkeypatch):
    """The other registration commits between this one's look and its insert: the unique
    version refuses the insert, and the entry the other one made is the answer."""
    from adsmanager.services import ctr_models

    first = register(db, seed=1)
    looks = []
    real = ctr_models.registered

    def too_early(session, version):
        looks.append(version)
        return None if len(looks) == 1 else real(session, version)

    monkeypatch.setattr(ctr_models, "registered", too_early)
    again = register(db, seed=1)
    assert len(looks) == 2
    assert again.id == first.id
    with db.read() as session:
        assert session.query(CtrModel).count() == 1


def test_activating_retires_the_previous_model_and_can_roll_back(admin, db):
    first, second = register(db, seed=1), register(db, seed=2)
    response = admin.post(f"/v1/models/{first.id}/activate")
    assert response.status_code == 200 and response.json["status"] == "active"
    assert response.json["activated_by"] is not None
    assert admin.post(f"/v1/models/{second.id}/activate").json["status"] == "active"
    first_now = admin.get(f"/v1/models/{first.id}").json
    assert first_now["status"] == "retired" and first_now["retired_at"] is not None
    # Rolling back is activating the retired one again.
    assert admin.post(f"/v1/models/{first.id}/activate").json["status"] == "active"
    statuses = {m["id"]: m["status"] for m in admin.get("/v1/models").json["items"]}
    assert statuses == {first.id: "active", second.id: "retired"}


def test_a_model_that_cannot_load_is_refused_and_the_active_one_stays(admin, db):
    good, broken = register(db, seed=1), register(db, seed=2)
    admin.post(f"/v1/models/{good.id}/activate")
    with db.transaction() as session:
        session.execute(
            update(CtrModel)
            .where(CtrModel.id == broken.id)
            .values(artifact=broken.artifact.replace(broken.feature_spec_hash, "0" * 64))
        )
    response = admin.post(f"/v1/models/{broken.id}/activate")
    assert response.status_code == 409
    assert response.json["code"] == "model_unusable"
    assert "feature spec" in response.json["message"]
    assert admin.get(f"/v1/models/{good.id}").json["status"] == "active"
    assert admin.get(f"/v1/models/{broken.id}").json["status"] == "candidate"


def test_only_admins_manage_models(db, acme, feed, finance):
    model = register(db)
    for client in (acme[1], feed, finance):
        assert client.get("/v1/models").status_code == 403
        assert client.post(f"/v1/models/{model.id}/activate").status_code == 403


def test_unknown_models_are_404(admin):
    assert admin.get("/v1/models/mdl_nope").status_code == 404
    assert admin.post("/v1/models/not an id/activate").status_code == 404


def test_the_reliability_diagram_is_a_png(admin, db):
    model = register(db)
    response = admin.get(f"/v1/models/{model.id}/reliability.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n") and len(response.data) > 5000
