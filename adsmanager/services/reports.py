"""The delivery report: impressions, clicks, spend and the rates between them, by campaign,
ad group or ad, per day (in the advertiser's time zone) or per UTC hour."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from adsmanager.db.database import Database
from adsmanager.db.delivery import DeliveryHour
from adsmanager.db.models import Advertiser
from adsmanager.services.access import Actor, scoped
from adsmanager.services.errors import FieldErrors

LEVELS = {"campaign": "campaign_id", "ad_group": "ad_group_id", "ad": "ad_id"}
GRANULARITIES = ("day", "hour")
MAX_ROWS = 50_000


@dataclass(frozen=True)
class ReportRow:
    advertiser_id: str
    object_id: str
    period: date | datetime
    impressions: int
    clicks: int
    spend_micros: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def cpm_micros(self) -> int | None:
        return self.spend_micros * 1000 // self.impressions if self.impressions else None

    @property
    def cpc_micros(self) -> int | None:
        return self.spend_micros // self.clicks if self.clicks else None


def delivery(
    db: Database,
    actor: Actor,
    *,
    level: str,
    granularity: str,
    start: datetime,
    end: datetime,
    advertiser_id: str | None = None,
    campaign_id: str | None = None,
) -> list[ReportRow]:
    """Rows for hours in [start, end), both aware datetimes."""
    errors = FieldErrors()
    if end <= start:
        errors.add("end", "end must be after start.")
    if (end - start).days > 400:
        errors.add("end", "A report covers at most 400 days.")
    errors.raise_if_any()
    column = getattr(DeliveryHour, LEVELS[level])
    # Summed per object and hour by the database: the ads of a campaign report come back
    # as one row per campaign and hour.
    statement = (
        scoped(
            select(
                DeliveryHour.advertiser_id,
                column,
                DeliveryHour.hour,
                func.sum(DeliveryHour.impressions),
                func.sum(DeliveryHour.clicks),
                func.sum(DeliveryHour.spend_micros),
            ),
            DeliveryHour.advertiser_id,
            actor,
        )
        .where(DeliveryHour.hour >= start, DeliveryHour.hour < end)
        .group_by(DeliveryHour.advertiser_id, column, DeliveryHour.hour)
    )
    if advertiser_id is not None:
        statement = statement.where(DeliveryHour.advertiser_id == advertiser_id)
    if campaign_id is not None:
        statement = statement.where(DeliveryHour.campaign_id == campaign_id)
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    zones: dict[str, ZoneInfo] = {}
    with db.read() as session:
        rows = session.execute(statement.execution_options(yield_per=10_000))
        for advertiser, object_id, hour, *sums in rows:
            if granularity == "day":
                if advertiser not in zones:
                    zones[advertiser] = ZoneInfo(session.get(Advertiser, advertiser).timezone)
                period = hour.astimezone(zones[advertiser]).date()
            else:
                period = hour
            total = totals[(advertiser, object_id, period)]
            for index, value in enumerate(sums):
                total[index] += int(value)  # PostgreSQL sums BIGINTs as NUMERIC
            if len(totals) > MAX_ROWS:
                errors.add("start", f"More than {MAX_ROWS} rows: narrow the range or the level.")
                errors.raise_if_any()
    return [
        ReportRow(advertiser, object_id, period, *values)
        for (advertiser, object_id, period), values in sorted(totals.items())
    ]
