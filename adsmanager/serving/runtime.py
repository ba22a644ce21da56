"""Everything one worker process serves auctions with, built once per app."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from adsmanager.config import Settings, instance_path
from adsmanager.db.database import Database
from adsmanager.serving.balances import BalanceHolder
from adsmanager.serving.counters import Counters, SpendKey, make_counters
from adsmanager.serving.history import HistoryHolder
from adsmanager.serving.log_writer import LogWriter
from adsmanager.serving.models import ModelHolder
from adsmanager.serving.snapshot import SnapshotHolder
from auction.ctr import ConstantPredictor, CtrPredictor, LightGBMPredictor
from auction.eligibility import local_day
from auction.engine import AuctionConfig
from auction.insertion import AdLoadLimits
from auction.tokens import TokenSigner
from auction.types import AdGroup, ReservePrices, Spend

log = logging.getLogger(__name__)
PRIOR_CTR = AuctionConfig.prior_ctr  # the first stage and the model-less predictor agree


class CounterState:
    """The engine's view of the shared counters."""

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

    def spend(self, ad_groups: Sequence[AdGroup], now: datetime) -> list[Spend]:
        minute = int(now.timestamp()) // 60
        days: dict[str, date] = {}  # this call's, by time zone
        keys = []
        for g in ad_groups:
            day = days.get(g.timezone)
            if day is None:
                day = days[g.timezone] = self._local_day(g, now, minute)
            keys.append((g.ad_group_id, g.campaign_id, day))
        # In-process counters read plain tuples (no SpendKey per candidate); others, e.g.
        # Redis, take SpendKeys.
        spend_of = getattr(self._counters, "spend_of", None)
        if spend_of is not None:
            return spend_of(keys)
        return self._counters.spend([SpendKey(*key) for key in keys])

    def impressions_in_window(self, user_id, ad_groups, now) -> list[int]:
        return self._counters.impressions_in_window(
            user_id, [(g.ad_group_id, g.frequency_cap[1]) for g in ad_groups], now
        )

    def remaining_balances(self, advertiser_ids: set[str]) -> dict[str, int | None]:
        if self._balances is None:
            return dict.fromkeys(advertiser_ids)
        return self._balances.remaining(advertiser_ids)


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
        self.balances = BalanceHolder(db, self.counters, settings.balance_refresh_seconds)
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
        self.history = HistoryHolder(db, settings.history_refresh_seconds, settings.history_days)
        # The first stage ranks by the same history the model reads.
        self.snapshots = SnapshotHolder(
            db, settings.snapshot_refresh_seconds, PRIOR_CTR, self.history.current
        )

    @property
    def predictor(self) -> CtrPredictor:
        return self.models.current()
