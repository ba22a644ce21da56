"""Training from the auction's logs: one feature definition, a split by time, calibration,
evaluation against the prior and the active model, registration and activation."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from adsmanager.db.delivery import AdEvent, ServedAd
from adsmanager.services import ctr_models, demo, training
from adsmanager.services.errors import Conflict
from adsmanager.vocabulary import ModelStatus
from auction import evaluation, features, simulator
from auction.ctr import TrainingRows
from auction.tokens import CLICK
from tests.model_builders import register
from tests.services.conftest import START


def test_a_logged_impression_has_the_features_the_model_scores(db, serving, logged):
    """No train/serve skew: the row training reads is the row the scoring code builds."""
    snapshot = serving.snapshots.current().ad_groups
    history = serving.history.current()
    assert history.platform.impressions > 0
    with db.read() as session:
        served = session.scalars(
            select(ServedAd).where(ServedAd.served_at >= START + timedelta(hours=10)).limit(50)
        ).all()
    users = {user.id: user for user in simulator.make_users(200, seed=5)}
    assert served
    for row in served:
        scored = features.matrix(
            users[row.user_id], [snapshot[row.ad_group_id]], [row.position], row.served_at, history
        )
        assert row.features == scored[0].tolist()
        assert row.feature_spec == features.FEATURE_SPEC_HASH
    # The simulated viewers live in several time zones, and the hour is theirs.
    hour = features.FEATURE_NAMES.index("hour_local")
    assert any(row.features[hour] != row.served_at.hour for row in served)


def test_the_split_follows_time_so_nothing_from_the_future_trains(logged):
    train, calibration, test = training.split_by_time(logged)
    assert len(train) + len(calibration) + len(test) == len(logged)
    assert train.served_at.max() < calibration.served_at.min()
    assert calibration.served_at.max() < test.served_at.min()
    assert (np.diff(logged.served_at) >= np.timedelta64(0)).all()
    assert len(train) > len(calibration) > 0 and len(test) > 0


def test_the_ads_of_one_page_stay_in_one_part_of_the_split():
    """Rows served at the same moment are never cut apart, even where the shares fall
    inside a moment (4 rows per moment: 70% of 100 is the third row of moment 17)."""
    moments = np.repeat(
        np.datetime64("2026-11-29T00:00") + np.arange(25) * np.timedelta64(1, "m"), 4
    ).astype("datetime64[us]")
    logged = training.LoggedRows(
        TrainingRows(np.zeros((100, len(features.FEATURE_NAMES))), np.zeros(100, np.int8)),
        moments,
        np.zeros(100, np.int64),
    )
    train, calibration, test = training.split_by_time(logged)
    assert (len(train), len(calibration), len(test)) == (68, 16, 16)
    assert train.served_at.max() < calibration.served_at.min()
    assert calibration.served_at.max() < test.served_at.min()
    one_moment = training.LoggedRows(logged.rows, np.repeat(moments[:1], 100), logged.ad_groups)
    assert [len(part) for part in training.split_by_time(one_moment)] == [0, 0, 100]


def test_a_window_selects_only_its_rows(db, logged):
    middle = START + timedelta(hours=10)
    early = training.logged_rows(db, until=middle)
    late = training.logged_rows(db, since=middle)
    assert len(early) + len(late) == len(logged)
    assert early.last < middle <= late.first


def test_a_click_counts_only_within_the_click_window_of_its_impression(db, logged):
    """A click reported late (a token lives a day) is no click for training: otherwise an
    old impression would carry it and a new one, not yet reported, would not."""
    with db.transaction() as session:
        clicks = session.execute(
            select(AdEvent, ServedAd.served_at)
            .join(ServedAd, ServedAd.impression_id == AdEvent.impression_id)
            .where(AdEvent.event_type == CLICK)
            .order_by(AdEvent.id)
        ).all()
        assert len(clicks) >= 4
        # The simulated feed reports within minutes: every click it made counts.
        assert int(logged.rows.y.sum()) == len(clicks)
        late, in_time = clicks[::2], clicks[1::2]
        for event, served_at in late:
            event.occurred_at = served_at + training.CLICK_WINDOW
        for event, served_at in in_time:
            event.occurred_at = served_at + training.CLICK_WINDOW - timedelta(seconds=1)
    relabelled = training.logged_rows(db)
    assert np.array_equal(relabelled.rows.X, logged.rows.X)
    assert int(relabelled.rows.y.sum()) == int(logged.rows.y.sum()) - len(late)
    assert relabelled.rows.y.sum() == len(in_time)


def test_the_simulated_feed_reports_each_event_within_five_minutes(db, serving):
    """Even with its pages an hour apart: a click sent later would not train."""
    demo.seed_market(db, simulator.make_market(3, 2, seed=4, now=START))
    serving.snapshots.refresh()
    hours = timedelta(hours=12)
    demo.simulate_traffic(db, serving, requests=12, users=50, seed=4, start=START, duration=hours)
    with db.read() as session:
        reported = session.execute(
            select(AdEvent.occurred_at, ServedAd.served_at).join(
                ServedAd, ServedAd.impression_id == AdEvent.impression_id
            )
        ).all()
    assert len(reported) >= 12
    assert all(timedelta(0) <= at - served <= demo.REPORT_WITHIN for at, served in reported)


def test_rows_logged_under_another_feature_spec_are_left_out(db, logged):
    """After an upgrade that changes what a column means (UTC hours became local ones, with
    as many columns), the rows logged before it cannot train: neither those of another spec
    nor those logged before rows named their spec."""
    middle = START + timedelta(hours=10)
    late = training.logged_rows(db, since=middle)
    with db.transaction() as session:
        early = session.scalars(select(ServedAd).where(ServedAd.served_at < middle)).all()
        for number, row in enumerate(early):
            row.feature_spec = None if number % 2 else features.feature_spec_hash(("v3",))
    kept = training.logged_rows(db)
    assert 0 < len(kept) == len(late) < len(logged)
    assert np.array_equal(kept.rows.X, late.rows.X)
    assert np.array_equal(kept.rows.y, late.rows.y)


def test_training_registers_an_evaluated_model_and_activates_it_only_if_better(db, logged):
    first = training.train_and_register(db, num_trees=40, created_by="test")
    metrics = first.metrics
    assert metrics["rows"]["test"] == len(training.split_by_time(logged)[2])
    model = metrics["model"]
    assert set(model["by"]) == {"position", "billing_event", "ad_age"}
    assert model["normalized_entropy"] > 0 and metrics["prior"]["normalized_entropy"] > 0
    assert model["reliability"]
    beat_prior = model["log_loss"] < metrics["prior"]["log_loss"]
    assert (first.status is ModelStatus.ACTIVE) == beat_prior
    assert first.decision.startswith("better" if beat_prior else "not better")
    # The same data and parameters give the same model: one entry, nothing changes.
    again = training.train_and_register(db, num_trees=40, created_by="test")
    assert again.model_id == first.model_id
    if beat_prior:
        assert again.metrics["active"]["version"] == first.version
        assert again.decision.startswith("not better than active")
        assert ctr_models.active_version(db) == first.version


def test_too_few_rows_is_a_clear_error(db):
    with pytest.raises(ValueError, match="not enough logged impressions"):
        training.train_and_register(db)


# A fixed day: the simulated viewers click by the hour of their clock, so rows simulated
# from the time of the run would make the models below, and their order, change by the hour.
SIMULATED_DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _simulated_logged(seed: int, impressions: int = 60_000) -> training.LoggedRows:
    """Simulated impressions as logged rows: enough clicks that a model beats the prior."""
    users = simulator.make_users(2_000, seed=seed)
    market = simulator.make_market(20, 5, seed=seed, now=SIMULATED_DAY)
    records = simulator.simulate_impressions(
        users, market, impressions, seed=seed, now=SIMULATED_DAY
    )
    rows = simulator.training_rows(records)
    return training.logged_rows_from(
        [
            (
                rows.X,
                rows.y.astype(np.int8),
                np.array([r.at.replace(tzinfo=None) for r in records], "datetime64[us]"),
                [r.ad_group.ad_group_id for r in records],
            )
        ]
    )


def test_a_challenger_replaces_the_active_model_only_when_it_is_better(db):
    logged = _simulated_logged(seed=8)
    first = training.train_and_register(db, logged=logged, num_trees=60)
    assert first.status is ModelStatus.ACTIVE
    assert first.decision.startswith("better than the constant prior")
    # One tree barely moves from the prior: worse than the active model on the same rows.
    weak = training.train_and_register(db, logged=logged, num_trees=1)
    assert weak.status is ModelStatus.CANDIDATE
    assert weak.decision.startswith(f"not better than active {first.version}")
    assert weak.metrics["active"]["version"] == first.version
    assert ctr_models.active_version(db) == first.version
    # With activation off, even a better model waits for a person.
    manual = training.train_and_register(db, logged=logged, num_trees=120, auto_activate=False)
    assert manual.status is ModelStatus.CANDIDATE
    assert ctr_models.active_version(db) == first.version


def test_the_active_model_is_judged_only_on_held_out_rows_it_did_not_learn_from(db):
    """An active model trained on a later window has learned from part of the challenger's
    held-out rows; scored there it would look better than it is."""
    logged = _simulated_logged(seed=8)
    n = len(logged)
    later = training.train_and_register(db, logged=logged.part(n * 3 // 10, n), num_trees=60)
    assert later.status is ModelStatus.ACTIVE
    trained_to = ctr_models.get(db, later.model_id).trained_to
    challenger = training.train_and_register(db, logged=logged, num_trees=1, auto_activate=False)
    _, _, test = training.split_by_time(logged)
    unseen = test.after(trained_to)
    assert 0 < len(unseen) < len(test)
    assert unseen.first > trained_to >= test.first
    judged = challenger.metrics["active"]
    assert judged["version"] == later.version and judged["rows"] == len(unseen)
    own = ctr_models.load(ctr_models.get(db, challenger.model_id)).predict_rows(unseen.rows.X)
    assert judged["model_log_loss"] == pytest.approx(
        evaluation.evaluate(unseen.rows.y, own)["log_loss"]
    )
    assert f"held-out rows it did not learn from ({len(unseen)})" in challenger.decision
    # An active model that learned from every held-out row is not compared at all.
    early = training.train_and_register(db, logged=logged.part(0, n * 8 // 10), num_trees=60)
    assert early.status is ModelStatus.CANDIDATE
    assert early.decision.startswith(f"not compared with active {later.version}")
    assert ctr_models.active_version(db) == later.version


def test_a_challenger_takes_over_only_from_the_model_it_was_compared_with(db, monkeypatch):
    logged = _simulated_logged(seed=8)
    compared = training.train_and_register(db, logged=logged, num_trees=1, auto_activate=False)
    ctr_models.activate(db, compared.model_id, by="test")
    meanwhile = register(db, seed=2)  # an admin's choice, while the challenger trains
    real_register = ctr_models.register

    def register_then_switch(*args, **kwargs):
        record = real_register(*args, **kwargs)
        ctr_models.activate(db, meanwhile.id, by="admin")
        return record

    monkeypatch.setattr(ctr_models, "register", register_then_switch)
    challenger = training.train_and_register(db, logged=logged, num_trees=60)
    assert challenger.metrics["active"]["version"] == compared.version
    assert challenger.decision.startswith(f"better than active {compared.version}")
    assert challenger.decision.endswith("left a candidate: another model became active meanwhile")
    assert challenger.status is ModelStatus.CANDIDATE
    assert ctr_models.active_version(db) == meanwhile.version


def test_an_activation_that_names_the_model_it_replaces_checks_it(db):
    first, second, third = register(db, seed=1), register(db, seed=2), register(db, seed=3)
    with pytest.raises(Conflict, match="compare it again"):
        ctr_models.activate(db, first.id, by="test", replacing=second.id)  # none is active
    ctr_models.activate(db, first.id, by="test", replacing=None)
    with pytest.raises(Conflict) as refused:
        ctr_models.activate(db, second.id, by="test", replacing=third.id)
    assert refused.value.code == "active_model_changed"
    assert ctr_models.activate(db, second.id, by="test", replacing=first.id).status is (
        ModelStatus.ACTIVE
    )
    assert ctr_models.active_version(db) == second.version
