"""Monthly statements: what moved through an advertiser's balance in a calendar month of
its own time zone, read from the ledger.

Opening balance + top-ups + credits − refunds − spend = closing balance, always: every line
is a sum of postings on the advertiser's balance account, cut by the entries' effective time.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from adsmanager.db.database import Database
from adsmanager.db.ledger import JournalEntry, LedgerAccount, Posting
from adsmanager.db.models import Campaign
from adsmanager.services import advertisers
from adsmanager.services.access import Actor
from adsmanager.services.errors import invalid
from adsmanager.services.spreadsheet import cell
from billing.ledger import AccountKind, EntryKind

MONTH = re.compile(r"^(19[7-9]\d|2\d\d\d)-(0[1-9]|1[0-2])\Z")  # 1970-01 to 2999-12


@dataclass(frozen=True)
class CampaignSpend:
    campaign_id: str
    campaign_name: str
    spend_micros: int


@dataclass(frozen=True)
class Statement:
    advertiser_id: str
    advertiser_name: str
    currency: str
    timezone: str
    month: str
    period_start: datetime
    period_end: datetime
    opening_balance_micros: int
    top_ups_micros: int
    credits_micros: int
    refunds_micros: int
    spend_micros: int
    closing_balance_micros: int
    spend_by_campaign: list[CampaignSpend] = field(default_factory=list)


def parse_month(month: str) -> date:
    matched = MONTH.match(month)
    if not matched:
        raise invalid("month", "Use YYYY-MM (1970 to 2999), e.g. 2026-11.")
    return date(int(matched[1]), int(matched[2]), 1)


def _month_bounds(first: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC),
        datetime(following.year, following.month, 1, tzinfo=zone).astimezone(UTC),
    )


def monthly(db: Database, actor: Actor, advertiser_id: str, month: str) -> Statement:
    first = parse_month(month)
    with db.read() as session:
        advertiser = advertisers.load(session, actor, advertiser_id)
        start, end = _month_bounds(first, ZoneInfo(advertiser.timezone))
        on_balance = (
            Posting.entry_id == JournalEntry.id,
            LedgerAccount.id == Posting.account_id,
            LedgerAccount.kind == AccountKind.ADVERTISER_BALANCE.value,
            LedgerAccount.owner_id == advertiser.id,
            LedgerAccount.currency == advertiser.currency,
        )
        opening = session.scalar(
            select(func.coalesce(func.sum(Posting.amount_micros), 0)).where(
                *on_balance, JournalEntry.effective_at < start
            )
        )
        moved = session.execute(
            select(JournalEntry.kind, JournalEntry.campaign_id, func.sum(Posting.amount_micros))
            .where(*on_balance, JournalEntry.effective_at >= start, JournalEntry.effective_at < end)
            .group_by(JournalEntry.kind, JournalEntry.campaign_id)
        ).all()
        names = dict(
            session.execute(
                select(Campaign.id, Campaign.name).where(
                    Campaign.id.in_({campaign for _, campaign, _ in moved if campaign})
                )
            ).all()
        )
    totals = {kind: 0 for kind in EntryKind}
    by_campaign = []
    for kind, campaign_id, micros in moved:
        totals[EntryKind(kind)] += int(micros)
        if kind == EntryKind.SPEND.value:
            by_campaign.append(
                CampaignSpend(campaign_id, names.get(campaign_id, campaign_id), -int(micros))
            )
    opening = int(opening)
    return Statement(
        advertiser_id=advertiser.id,
        advertiser_name=advertiser.name,
        currency=advertiser.currency,
        timezone=advertiser.timezone,
        month=month,
        period_start=start,
        period_end=end,
        opening_balance_micros=opening,
        top_ups_micros=totals[EntryKind.TOP_UP],
        credits_micros=totals[EntryKind.MANUAL_CREDIT],
        refunds_micros=-totals[EntryKind.REFUND],
        spend_micros=-totals[EntryKind.SPEND],
        closing_balance_micros=opening + sum(totals.values()),
        spend_by_campaign=sorted(
            by_campaign, key=lambda line: (-line.spend_micros, line.campaign_id)
        ),
    )


def _decimal(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    units, rest = divmod(abs(micros), 1_000_000)
    return f"{sign}{units}.{rest:06d}"


def to_csv(statement: Statement) -> str:
    """One line per statement line; amounts in micros and as decimals of the currency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "advertiser_id",
            "month",
            "currency",
            "line",
            "campaign_id",
            "campaign_name",
            "amount_micros",
            "amount",
        ]
    )
    lines = [
        ("opening_balance", "", "", statement.opening_balance_micros),
        ("top_ups", "", "", statement.top_ups_micros),
        ("credits", "", "", statement.credits_micros),
        ("refunds", "", "", -statement.refunds_micros),
        *(
            ("spend", line.campaign_id, line.campaign_name, -line.spend_micros)
            for line in statement.spend_by_campaign
        ),
        ("closing_balance", "", "", statement.closing_balance_micros),
    ]
    for line, campaign_id, name, micros in lines:
        writer.writerow(
            [
                statement.advertiser_id,
                statement.month,
                statement.currency,
                line,
                campaign_id,
                cell(name),
                micros,
                _decimal(micros),
            ]
        )
    return out.getvalue()
