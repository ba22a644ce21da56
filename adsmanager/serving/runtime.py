"""Everything one worker process serves auctions with, built once per app."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from adsmanager.config import Settings, instance_path
from adsmanager.db.database import Database
from adsmanager.services import reference
from adsmanager.serving.balances import BalanceHolder
from adsmanager.serving.counters import CounterKey, Counters, make_counters
from adsmanager.serving.history import HistoryHolder
from adsmanager.serving.log_writer import LogWriter
from adsmanager.serving.models import ModelHolder
from adsmanager.serving.recorded_spend import PeriodicCatchUp, RecordedSpend, catch_up
from adsmanager.serving.snapshot import SnapshotHolder
from auction.ctr import ConstantPredictor, CtrPredictor, LightGBMPredictor
from auction.eligibility import DAILY, local_day
from auction.engine import AuctionConfig, ChunkCounts
from auction.insertion import AdLoadLimits
from auction.tokens import TokenSigner
from auction.types import AdGroup, ReservePrices, Spend

log = logging.getLogger(__name__)
PRIOR_CTR = AuctionConfig.prior_ctr  # the first stage and the model-less predictor agree


class CounterState:
    """The engine's view of the shared counters and the advertisers' balances."""

    def __init__(self, counters: Counters, balances: BalanceHolder | None = None) -> None:
        """``balances`` None: no advertiser's balance is enforced (simulations, replays)."""
        self._counters = counters
        self._balances = balances
        # The local day per time zone, for the current minute: many ad groups share a zone,
        # and every UTC offset is whole minutes, so a day never changes inside a minute.
        self._days: dict[str, tuple[int, date]] = {}

    def _local_day(self, ad_group: AdGroup, now: datetime, minute: int) -> date:
        cached = self._days.get(ad_group.timezone)
        if cached is None or cached[0] != minute:
            cached = (minute, local_day(ad_group, now))
            self._days[ad_group.timezone] = cached
        return cached[1]

    def read(self, user_id: str, ad_groups: Sequence[AdGroup], now: datetime) -> ChunkCounts:
        minute = int(now.timestamp()) // 60
        days: dict[str, date] = {}  # this call's, by time zone
        # Only the totals the ad groups' budgets count: a campaign's daily or lifetime spend,
        # and the ad group's own where it has a budget; each read once however many ad
        # groups share it. Spend holds 0 for the others, which eligibility never reads.
        totals: dict[CounterKey, int] = {}  # the position of each in the read
        wanted = []
        for g in ad_groups:
            day = days.get(g.timezone)
            if day is None:
                day = days[g.timezone] = self._local_day(g, now, minute)
            campaign_daily = g.campaign_budget.mode == DAILY
            key = ("cmp", g.campaign_id, day if campaign_daily else None)
            campaign = totals.setdefault(key, len(totals))
            own = g.ad_group_budget
            own_daily = own is not None and own.mode == DAILY
            group = -1
            if own is not None:
                key = ("adg", g.ad_group_id, day if own_daily else None)
                group = totals.setdefault(key, len(totals))
            wanted.append((campaign, campaign_daily, group, own_daily))
        windows = [
            (g.ad_group_id, g.frequency_cap[1]) for g in ad_groups if g.frequency_cap is not None
        ]
        advertiser_ids = {g.advertiser_id for g in ad_groups}
        reading = self._balances.current() if self._balances is not None else None
        funded = reading.funded(advertiser_ids) if reading is not None else []
        values, seen, spent = self._counters.read(list(totals), user_id, windows, funded, now)
        spends = []
        for campaign, campaign_daily, group, own_daily in wanted:
            campaign_spent = values[campaign]
            group_spent = values[group] if group >= 0 else 0
            spends.append(
                Spend(
                    group_spent if own_daily else 0,
                    0 if own_daily else group_spent,
                    campaign_spent if campaign_daily else 0,
                    0 if campaign_daily else campaign_spent,
                )
            )
        if reading is None:
            balances = dict.fromkeys(advertiser_ids)
        else:
            balances = reading.remaining(advertiser_ids, dict(zip(funded, spent, strict=True)))
        seen_by_id = {
            ad_group_id: count for (ad_group_id, _), count in zip(windows, seen, strict=True)
        }
        return ChunkCounts(spends, seen_by_id, balances)


def load_predictor(settings: Settings) -> CtrPredictor:
    path = Path(settings.model_path) if settings.model_path else instance_path() / "ctr_model.txt"
    if not path.exists():
        log.warning("no CTR model at %s: pricing with a constant pCTR of %s", path, PRIOR_CTR)
        return ConstantPredictor(PRIOR_CTR, version="prior")
    try:
        return LightGBMPredictor.from_artifact(path.read_text())
    except ValueError as error:
        # A file left from an older feature spec must not take the auction down.
        log.error("refused the CTR model at %s (%s): pricing with %s", path, error, PRIOR_CTR)
        return ConstantPredictor(PRIOR_CTR, version="prior")


class Serving:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.counters = make_counters(settings.redis_url)
        # Before anything is served: budgets already spent must not serve again.
        spend = RecordedSpend(db)
        catch_up(spend, self.counters)
        # One worker's in-process counters: the other workers' charges reach them from the
        # database, every spend_refresh_seconds.
        spend_catch_up = (
            None
            if settings.redis_url
            else PeriodicCatchUp(spend, self.counters, settings.spend_refresh_seconds)
        )
        self.balances = BalanceHolder(
            db, self.counters, settings.balance_refresh_seconds, also=spend_catch_up
        )
        self.state = CounterState(self.counters, self.balances)
        self.logs = LogWriter(db)
        self.signer = TokenSigner(settings.secret_key)
        self.models = ModelHolder(
            db, settings.snapshot_refresh_seconds, lambda: load_predictor(settings)
        )
        self.config = AuctionConfig(
            reserves=ReservePrices(settings.reserve_cpm_micros, settings.reserve_cpc_micros),
            prior_ctr=PRIOR_CTR,
            exploration_share=settings.exploration_share,
            new_ad_impressions=settings.new_ad_impressions,
        )
        self.ad_load_limits = AdLoadLimits()
        # The auction checks user.timezone against this list; reading it takes ~70 ms, which
        # the first request with a time zone would otherwise wait for.
        reference.time_zones()
        self.history = HistoryHolder(db, settings.history_refresh_seconds, settings.history_days)
        # The first stage ranks by the same history the model reads.
        self.snapshots = SnapshotHolder(
            db, settings.snapshot_refresh_seconds, PRIOR_CTR, self.history.current
        )

    @property
    def predictor(self) -> CtrPredictor:
        return self.models.current()
