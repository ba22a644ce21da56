"""Demo data: a simulated market written to the database, and simulated feed traffic that
goes through the real auction and events code."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from adsmanager.db.base import utcnow
from adsmanager.db.database import Database
from adsmanager.db.models import CREATIVE_FIELDS, Ad, AdGroup, Advertiser, Campaign
from adsmanager.services import auction, events, ledger, users
from adsmanager.serving.runtime import Serving
from adsmanager.vocabulary import TARGETING_FIELDS, ReviewStatus, Role, Status
from auction import simulator, types
from billing import ledger as rules
from billing.money import Money

# What each simulated advertiser is given to spend: more than any simulated budget.
SIMULATED_FUNDS_MICROS = 1_000_000 * 1_000_000
# The simulated feed reports its events in batches, as a feed does, but at most this long
# after they happened: training counts a click only within its click window.
REPORT_WITHIN = timedelta(minutes=5)


# One person per role for the web pages; the advertiser's is tied to the first advertiser.
DEMO_PEOPLE = (
    ("admin@demo.example", Role.ADMIN),
    ("finance@demo.example", Role.FINANCE),
    ("advertiser@demo.example", Role.ADVERTISER),
)


def seed_people(db: Database, now: datetime) -> list[tuple[str, Role, str]]:
    """Create the demo's people, each with a fresh random password, and return
    (email, role, password) to show once; the advertiser's user gets the advertiser
    that comes first by name."""
    with db.transaction() as session:
        first = session.scalar(select(Advertiser.id).order_by(Advertiser.name, Advertiser.id))
    people = []
    for email, role in DEMO_PEOPLE:
        password = secrets.token_urlsafe(12)
        advertiser_id = first if role is Role.ADVERTISER else None
        users.create_user(db, email, password, role, advertiser_id, now)
        people.append((email, role, password))
    return people


def is_empty(db: Database) -> bool:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Advertiser)) == 0


def _sorted_list(values: frozenset[str]) -> list[str]:
    return sorted(values)


def _dayparting(hours: frozenset[int] | None) -> list[dict] | None:
    if hours is None:
        return None
    days = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    return [
        {"days": [days[h // 24]], "start_hour": h % 24, "end_hour": h % 24 + 1}
        for h in sorted(hours)
    ]


def seed_market(
    db: Database, market: Sequence[types.AdGroup], funds_micros: int = SIMULATED_FUNDS_MICROS
) -> int:
    """Insert the simulated advertisers (each credited ``funds_micros``), campaigns, ad
    groups and (approved) ads in bulk."""
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    advertisers, campaigns, ad_groups, ads = {}, {}, [], []
    for group in market:
        advertisers.setdefault(
            group.advertiser_id,
            {
                "id": group.advertiser_id,
                "name": f"Simulated {group.advertiser_id[-4:]}",
                "currency": "USD",
                "timezone": group.timezone,
                "industry": group.industry,
                "status": "ACTIVE",
                **stamps,
            },
        )
        campaigns.setdefault(
            group.campaign_id,
            {
                "id": group.campaign_id,
                "advertiser_id": group.advertiser_id,
                "name": f"Campaign {group.campaign_id[-7:]}",
                "objective": group.objective,
                "budget_mode": group.campaign_budget.mode,
                "budget_micros": group.campaign_budget.amount_micros,
                "start_time": group.campaign_start,
                "end_time": group.campaign_end,
                "status": "ACTIVE",
                **stamps,
            },
        )
        targeting = {
            name: _sorted_list(getattr(group.targeting, name)) for name in TARGETING_FIELDS
        }
        own = group.ad_group_budget
        cap = group.frequency_cap
        ad_groups.append(
            {
                "id": group.ad_group_id,
                "advertiser_id": group.advertiser_id,
                "campaign_id": group.campaign_id,
                "name": f"Ad group {group.ad_group_id[-7:]}",
                "billing_event": group.billing_event,
                "bid_micros": group.bid_micros,
                "budget_mode": own.mode if own else None,
                "budget_micros": own.amount_micros if own else None,
                "pacing": group.pacing,
                "frequency_cap_impressions": cap[0] if cap else None,
                "frequency_cap_hours": cap[1] if cap else None,
                "dayparting": _dayparting(group.dayparting),
                "targeting": targeting,
                "status": "ACTIVE",
                **stamps,
            }
        )
        for ad in group.ads:
            ads.append(
                {
                    "id": ad.ad_id,
                    "advertiser_id": group.advertiser_id,
                    "campaign_id": group.campaign_id,
                    "ad_group_id": group.ad_group_id,
                    "name": f"Ad {ad.ad_id[-7:]}",
                    **vars_of(ad.creative),
                    "review_status": ReviewStatus.APPROVED.value,
                    "reviewed_at": now,
                    "reviewed_by": "simulator",
                    "status": Status.ACTIVE.value,
                    **stamps,
                }
            )
    with db.transaction() as session:
        for model, rows in (
            (Advertiser, list(advertisers.values())),
            (Campaign, list(campaigns.values())),
            (AdGroup, ad_groups),
            (Ad, ads),
        ):
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start : start + 2000])
        ids = list(advertisers)
        for start in range(0, len(ids), 2000):
            ledger.post(
                session,
                [
                    rules.manual_credit(
                        advertiser_id,
                        Money("USD", funds_micros),
                        f"simulated:{advertiser_id}",
                        "simulated advertiser's funds",
                    )
                    for advertiser_id in ids[start : start + 2000]
                ],
                now,
                "simulator",
                now,
            )
    return len(ad_groups)


def vars_of(creative: types.Creative) -> dict:
    """The creative's columns; a stored ad names one video source, the URL if both are set."""
    values = {name: getattr(creative, name) for name in CREATIVE_FIELDS}
    if values["video_url"]:
        values["video_id"] = None
    return values


@dataclass
class TrafficReport:
    requests: int = 0
    ads_served: int = 0
    impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0


def simulate_traffic(
    db: Database,
    serving: Serving,
    *,
    requests: int,
    users: int,
    seed: int,
    start: datetime,
    duration: timedelta,
    progress: Callable[[int], None] | None = None,
) -> TrafficReport:
    """A feed service: pages of organic videos for simulated users, the real auction, and
    impressions and clicks (clicks drawn from the hidden click model) reported back."""
    rng = random.Random(seed)
    population = simulator.make_users(users, seed)
    clicks = simulator.ClickModel(seed)
    report = TrafficReport()
    pending: list[str] = []
    oldest: datetime | None = None  # when the oldest pending event happened
    step = duration / max(requests, 1)
    snapshot_groups = serving.snapshots.current().ad_groups
    for number in range(requests):
        now = start + step * number
        user = rng.choice(population)
        feed = [
            {
                "video_id": f"vid_{rng.randrange(10**6)}",
                "creator_id": f"creator_{rng.randrange(500)}",
                "category": rng.choice(simulator.INTERESTS),
            }
            for _ in range(12)
        ]
        body = {
            "request_id": f"sim-{seed}-{number}",
            "user": simulator.feed_user(user),
            "feed": feed,
            "ad_load": None,
        }
        response = auction.serve(serving, body, now=now)
        report.requests += 1
        for item in response["items"]:
            if item["type"] != "ad":
                continue
            report.ads_served += 1
            pending.append(item["tracking"]["impression"])
            group = snapshot_groups.get(item["ad_group_id"])
            if group and clicks.click(user, group, item["position"], now, rng):
                pending.append(item["tracking"]["click"])
        if pending and oldest is None:
            oldest = now
        # Sent now when waiting for the next page would report the oldest event too late.
        if pending and (
            len(pending) >= 500 or now + step - oldest > REPORT_WITHIN or number == requests - 1
        ):
            for result in events.ingest(db, serving.counters, serving.signer, pending, now):
                if result.status == events.ACCEPTED:
                    report.impressions += result.event_type == "impression"
                    report.clicks += result.event_type == "click"
                    report.spend_micros += result.charged_micros
            pending, oldest = [], None
        if progress:
            progress(number + 1)
    serving.logs.flush()
    return report
