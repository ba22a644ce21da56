"""Creators and their engagement written straight to the database, for tests of payout runs
(the ingestion API has tests of its own)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from adsmanager.db.base import utcnow
from adsmanager.db.creator_fund import Creator, VideoEngagement
from adsmanager.db.database import Database
from adsmanager.services import fund_rules
from adsmanager.services.access import Actor
from adsmanager.vocabulary import Role
from billing.fund_rules import Standing

FINANCE = Actor(id="key_finance", role=Role.FINANCE)
ADMIN = Actor(id="key_admin", role=Role.ADMIN)
TODAY = utcnow().date()
YESTERDAY = TODAY - timedelta(days=1)
_videos = itertools.count()


def add_creator(db: Database, creator_id: str, **overrides) -> None:
    values = {
        "id": creator_id,
        "country": "US",
        "verified_age": 30,
        "followers": 50_000,
        "standing": Standing.GOOD,
        "joined_on": TODAY - timedelta(days=90),
        "stripe_account_id": None,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    } | overrides
    with db.transaction() as session:
        session.add(Creator(**values))


def views(
    db: Database,
    creator_id: str,
    day: date,
    qualified: int,
    *,
    video_id: str | None = None,
    invalid: int = 0,
    invalid_traffic: bool = False,
    likes: int = 0,
) -> str:
    """Write (or overwrite) one video-day; its video id."""
    video_id = video_id or f"v{next(_videos)}"
    counted = 0 if invalid_traffic else qualified - invalid
    with db.transaction() as session:
        row = session.query(VideoEngagement).filter_by(video_id=video_id, day=day).one_or_none()
        values = dict(
            video_id=video_id,
            day=day,
            creator_id=creator_id,
            views=qualified * 2,
            qualified_views=qualified,
            invalid_views=invalid,
            invalid_traffic=invalid_traffic,
            counted_views=counted,
            watch_time_seconds=qualified * 20,
            likes=likes,
            comments=0,
            shares=0,
            updated_at=utcnow(),
        )
        if row is None:
            session.add(VideoEngagement(**values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
    return video_id


def trailing_views(db: Database, creator_id: str, day: date, per_day: int, days: int = 29) -> None:
    """Qualified views on the ``days`` days before ``day``: enough history to be eligible."""
    video_id = f"history-{creator_id}"
    for back in range(1, days + 1):
        views(db, creator_id, day - timedelta(days=back), per_day, video_id=video_id)


def set_rules(db: Database, **changes) -> int:
    return fund_rules.change(db, changes, "test", ADMIN, utcnow()).version
