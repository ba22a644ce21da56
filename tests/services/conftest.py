"""A small simulated market and day of traffic, logged through the real auction."""

from datetime import UTC, datetime, timedelta

import pytest

from adsmanager.services import demo, training
from auction import simulator

# Recent, so the delivery falls inside the serving history's trailing window.
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


@pytest.fixture
def logged(db, serving):
    """A small simulated market and a simulated day of traffic through the real auction."""
    demo.seed_market(db, simulator.make_market(6, 3, seed=4, now=START))
    serving.snapshots.refresh()
    half = timedelta(hours=10)
    demo.simulate_traffic(db, serving, requests=350, users=200, seed=4, start=START, duration=half)
    # The second half is served with the click-through history of the first.
    serving.history.refresh()
    demo.simulate_traffic(
        db, serving, requests=350, users=200, seed=5, start=START + half, duration=half
    )
    serving.logs.flush()
    return training.logged_rows(db)
