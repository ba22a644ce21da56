"""The per-request rules: may this ad group serve now, to this user, next to these videos?

Targeting (who) is answered by the index; these rules depend on the clock, the shared spend
and impression counters, and the neighbouring feed items, so they run on each request for the
candidates the index returned. Every `now` is an aware datetime (the server passes UTC); the
advertiser's days and hours are those of ``ad_group.timezone``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from auction.types import AdGroup, Budget, FeedItem, Spend

DAILY = "DAILY"
LIFETIME = "LIFETIME"
STANDARD = "STANDARD"
ACCELERATED = "ACCELERATED"

NOT_IN_FLIGHT = "not_in_flight"
OUTSIDE_DAYPART = "outside_daypart"
BUDGET_EXHAUSTED = "budget_exhausted"
PACED = "paced"
FREQUENCY_CAPPED = "frequency_capped"
NO_BALANCE = "no_balance"
BELOW_RESERVE = "below_reserve"

HOURS_PER_WEEK = 7 * 24
_MICROSECOND = timedelta(microseconds=1)


def local_time(ad_group: AdGroup, now: datetime) -> datetime:
    # A naive datetime would be read as the server's local time by astimezone(): refuse it
    # rather than serve in the wrong hour.
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(ZoneInfo(ad_group.timezone))


def in_flight(ad_group: AdGroup, now: datetime) -> bool:
    """Between the campaign's start (inclusive) and end (exclusive; None = open-ended)."""
    if now < ad_group.campaign_start:
        return False
    return ad_group.campaign_end is None or now < ad_group.campaign_end


def hour_of_week(local: datetime) -> int:
    """0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00, on the wall clock of `local`."""
    return local.weekday() * 24 + local.hour


def _in_daypart_local(ad_group: AdGroup, local: datetime) -> bool:
    return ad_group.dayparting is None or hour_of_week(local) in ad_group.dayparting


@dataclass(frozen=True, slots=True)
class LocalClock:
    """``now`` on one time zone's wall clock, with what the daypart and pacing rules read
    from it. The same for every ad group of that zone: an auction works it out once per
    zone (see ``local_clock``) rather than once per candidate."""

    local: datetime
    hour_of_week: int
    elapsed: int  # microseconds since local midnight, in real time
    day_length: int  # microseconds in this local day (23, 24 or 25 hours)

    def share_of_day(self) -> tuple[int, int]:
        return self.elapsed, self.day_length


def clock_at(local: datetime) -> LocalClock:
    """The clock of ``local`` (an aware datetime in the zone it stands for)."""
    return LocalClock(local, hour_of_week(local), *_elapsed_share_of_local_day(local))


def local_clock(ad_group: AdGroup, now: datetime) -> LocalClock:
    return clock_at(local_time(ad_group, now))


def in_daypart(ad_group: AdGroup, now: datetime) -> bool:
    """Whether the advertiser's local hour of the week is one the ad group may serve in."""
    if ad_group.dayparting is None:
        return True
    return _in_daypart_local(ad_group, local_time(ad_group, now))


def local_day(ad_group: AdGroup, now: datetime) -> date:
    """The advertiser's calendar date at `now`: the day that daily counters are keyed by."""
    return local_time(ad_group, now).date()


def _spent_against(budget: Budget, today_micros: int, lifetime_micros: int) -> int:
    if budget.mode == DAILY:
        return today_micros
    if budget.mode == LIFETIME:
        return lifetime_micros
    raise ValueError(f"unknown budget mode {budget.mode!r}")


def budget_allows(ad_group: AdGroup, spend: Spend) -> bool:
    """Neither the campaign's budget nor the ad group's own (if any) is used up."""
    campaign_spent = _spent_against(
        ad_group.campaign_budget, spend.campaign_today_micros, spend.campaign_lifetime_micros
    )
    if campaign_spent >= ad_group.campaign_budget.amount_micros:
        return False
    own_budget = ad_group.ad_group_budget
    if own_budget is None:
        return True
    own_spent = _spent_against(
        own_budget, spend.ad_group_today_micros, spend.ad_group_lifetime_micros
    )
    return own_spent < own_budget.amount_micros


@lru_cache(maxsize=4096)
def _local_day_in_utc(zone: ZoneInfo, day: date) -> tuple[datetime, int]:
    """(local midnight as UTC, microseconds in that local day), for every ad group of that
    zone alike: cached, because each request paces many ad groups on the same few days.

    A day with a DST change has 23 or 25 hours; measuring both ends in UTC gives its real
    length (subtracting two datetimes of the same zone would use wall-clock time instead).
    """
    midnight = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return midnight, (next_midnight.astimezone(UTC) - midnight) // _MICROSECOND


def _elapsed_share_of_local_day(local: datetime) -> tuple[int, int]:
    """(microseconds since local midnight, microseconds in this local day), in real time."""
    midnight, day_length = _local_day_in_utc(local.tzinfo, local.date())
    # midnight is in UTC and local is not, so this difference is real time, not wall time.
    return (local - midnight) // _MICROSECOND, day_length


def pacing_slack(amount_micros: int) -> int:
    """Half an hour's worth of a daily budget, so that the day does not start stalled."""
    return max(amount_micros // 48, 1)


def _on_pace(amount_micros: int, spent_today_micros: int, elapsed: int, day_length: int) -> bool:
    # spent <= amount * elapsed / day_length + slack, multiplied out to stay in integers.
    allowance = amount_micros * elapsed + pacing_slack(amount_micros) * day_length
    return spent_today_micros * day_length <= allowance


def _pacing_allows_local(ad_group: AdGroup, spend: Spend, local: datetime) -> bool:
    return _pacing_allows_at(ad_group, spend, lambda: _elapsed_share_of_local_day(local))


def _pacing_allows_at(
    ad_group: AdGroup, spend: Spend, share_of_day: Callable[[], tuple[int, int]]
) -> bool:
    """``share_of_day`` gives (elapsed, day_length); only called when a daily budget is
    paced."""
    if ad_group.pacing == ACCELERATED:
        return True
    if ad_group.pacing != STANDARD:
        raise ValueError(f"unknown pacing {ad_group.pacing!r}")
    # Only daily budgets are paced: a lifetime budget has no day to spread over, and
    # budget_allows already stops it once it is used up.
    campaign_budget, own_budget = ad_group.campaign_budget, ad_group.ad_group_budget
    campaign_daily = campaign_budget.mode == DAILY
    own_daily = own_budget is not None and own_budget.mode == DAILY
    if not (campaign_daily or own_daily):
        return True
    elapsed, day_length = share_of_day()
    if campaign_daily and not _on_pace(
        campaign_budget.amount_micros, spend.campaign_today_micros, elapsed, day_length
    ):
        return False
    return not own_daily or _on_pace(
        own_budget.amount_micros, spend.ad_group_today_micros, elapsed, day_length
    )


def pacing_allows(ad_group: AdGroup, spend: Spend, now: datetime) -> bool:
    """STANDARD pacing: each daily budget may be spent in step with the advertiser's local
    day (plus pacing_slack); ACCELERATED spends as fast as the auction allows."""
    return _pacing_allows_local(ad_group, spend, local_time(ad_group, now))


def frequency_allows(ad_group: AdGroup, impressions_in_window: int) -> bool:
    """Under the per-user cap; the counter store counts impressions over the cap's window."""
    if ad_group.frequency_cap is None:
        return True
    max_impressions, _window_hours = ad_group.frequency_cap
    return impressions_in_window < max_impressions


def balance_allows(remaining_balance_micros: int | None) -> bool:
    """None: the advertiser's balance is not enforced (e.g. invoiced), so it never stops."""
    return remaining_balance_micros is None or remaining_balance_micros > 0


def brand_safe(ad_group: AdGroup, neighbours: Iterable[FeedItem]) -> bool:
    """No neighbouring video is by an excluded creator or in an excluded category."""
    targeting = ad_group.targeting
    return not any(
        item.creator_id in targeting.excluded_creators
        or item.category in targeting.excluded_categories
        for item in neighbours
    )


def eligible_on_clock(
    ad_group: AdGroup,
    now: datetime,
    spend: Spend,
    impressions_in_window: int,
    remaining_balance_micros: int | None,
    clock: LocalClock,
) -> str | None:
    """``eligible(..., clock=clock)`` in one function body: the auction asks it for every
    candidate (50 or more per request), and the plain rules' nine small calls per candidate
    cost more than the comparisons themselves. Same rules, same order, same reasons, same
    errors for unknown modes; a test holds it to ``eligible`` on many random cases, so a
    rule changes in both or the test fails."""
    if now < ad_group.campaign_start or (
        ad_group.campaign_end is not None and now >= ad_group.campaign_end
    ):
        return NOT_IN_FLIGHT
    if remaining_balance_micros is not None and remaining_balance_micros <= 0:
        return NO_BALANCE
    campaign_budget, own_budget = ad_group.campaign_budget, ad_group.ad_group_budget
    campaign_daily = campaign_budget.mode == DAILY
    if campaign_daily:
        campaign_spent = spend.campaign_today_micros
    elif campaign_budget.mode == LIFETIME:
        campaign_spent = spend.campaign_lifetime_micros
    else:
        raise ValueError(f"unknown budget mode {campaign_budget.mode!r}")
    if campaign_spent >= campaign_budget.amount_micros:
        return BUDGET_EXHAUSTED
    own_daily = False
    if own_budget is not None:
        own_daily = own_budget.mode == DAILY
        if own_daily:
            own_spent = spend.ad_group_today_micros
        elif own_budget.mode == LIFETIME:
            own_spent = spend.ad_group_lifetime_micros
        else:
            raise ValueError(f"unknown budget mode {own_budget.mode!r}")
        if own_spent >= own_budget.amount_micros:
            return BUDGET_EXHAUSTED
    cap = ad_group.frequency_cap
    if cap is not None and impressions_in_window >= cap[0]:
        return FREQUENCY_CAPPED
    dayparting = ad_group.dayparting
    if dayparting is not None and clock.hour_of_week not in dayparting:
        return OUTSIDE_DAYPART
    pacing = ad_group.pacing
    if pacing == ACCELERATED:
        return None
    if pacing != STANDARD:
        raise ValueError(f"unknown pacing {pacing!r}")
    # As _on_pace, whose condition this negates.
    elapsed, day_length = clock.elapsed, clock.day_length
    if campaign_daily:
        amount = campaign_budget.amount_micros
        if (
            spend.campaign_today_micros * day_length
            > amount * elapsed + pacing_slack(amount) * day_length
        ):
            return PACED
    if own_daily:
        amount = own_budget.amount_micros
        if (
            spend.ad_group_today_micros * day_length
            > amount * elapsed + pacing_slack(amount) * day_length
        ):
            return PACED
    return None


def eligible(
    ad_group: AdGroup,
    *,
    now: datetime,
    spend: Spend,
    impressions_in_window: int,
    remaining_balance_micros: int | None,
    local: datetime | None = None,
    clock: LocalClock | None = None,
) -> str | None:
    """None if the ad group may serve now, else why not (one of the reason constants).
    ``local`` is ``now`` in the ad group's time zone, if the caller has it at hand (one
    conversion per zone serves every candidate of a request); ``clock``, that zone's
    ``local_clock`` at ``now``, saves the rest of the per-zone work too.

    When several rules fail, the first of this order is reported: not_in_flight,
    no_balance, budget_exhausted, frequency_capped, outside_daypart, paced. Plain
    comparisons come first; the conversion to the advertiser's time zone, the costliest
    step, is done once and only for candidates that passed them. Brand safety depends on
    the slot, so the feed insertion checks it separately.
    """
    if not in_flight(ad_group, now):
        return NOT_IN_FLIGHT
    if not balance_allows(remaining_balance_micros):
        return NO_BALANCE
    if not budget_allows(ad_group, spend):
        return BUDGET_EXHAUSTED
    if not frequency_allows(ad_group, impressions_in_window):
        return FREQUENCY_CAPPED
    if clock is not None:
        if ad_group.dayparting is not None and clock.hour_of_week not in ad_group.dayparting:
            return OUTSIDE_DAYPART
        if not _pacing_allows_at(ad_group, spend, clock.share_of_day):
            return PACED
        return None
    if local is None:
        local = local_time(ad_group, now)
    if not _in_daypart_local(ad_group, local):
        return OUTSIDE_DAYPART
    if not _pacing_allows_local(ad_group, spend, local):
        return PACED
    return None
