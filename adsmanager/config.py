"""Settings from environment variables, with defaults that work out of the box.

The embedded default keeps everything in an instance folder (``./instance``
unless ``ADSMANAGER_INSTANCE_PATH`` says otherwise): a SQLite database and a
generated secret key that survives restarts and is shared by all workers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "ADSMANAGER_"


def instance_path() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def default_database_url() -> str:
    return f"sqlite:///{instance_path() / 'adsmanager.sqlite3'}"


def database_url_from_env() -> str:
    return os.environ.get(f"{ENV_PREFIX}DATABASE_URL") or default_database_url()


def _persistent_secret_key() -> str:
    """A random key written once to the instance folder, so restarts keep it."""
    path = instance_path() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private file, then linked into place: processes starting at the
        # same time all end up with the one key that was linked first, never a partial file.
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            with contextlib.suppress(FileExistsError):  # another process linked first: use it
                os.link(draft, path)
        finally:
            draft.unlink()
    return path.read_text().strip()


class ConfigError(ValueError):
    """An environment variable whose value cannot be used; the message names it."""


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE + _FALSE:
        return lowered in _TRUE
    raise ValueError("use true or false (1/0, yes/no, on/off)")


def _integer(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("not a whole number") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return parse


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _seconds(*, zero: bool) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not (math.isfinite(value) and (value >= 0 if zero else value > 0)):
            lowest = "0 or a positive number" if zero else "a positive number"
            raise ValueError(f"must be {lowest} of seconds")
        return value

    return parse


def clock_time(raw: str) -> tuple[int, int]:
    """(hour, minute) of an HH:MM time of day."""
    hour, _, minute = raw.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"must be HH:MM, not {raw!r}")
    return int(hour), int(minute)


def _time_of_day(raw: str) -> str:
    clock_time(raw)
    return raw


# A refresh interval of 0 would start no background refresh at all: changes would never
# reach the auction.
_TYPED_SETTINGS: dict[str, Callable[[str], Any]] = {
    "max_content_length": _integer(1),
    "redis_url": str,
    "reserve_cpm_micros": _integer(0),
    "reserve_cpc_micros": _integer(0),
    "token_ttl_seconds": _integer(1),
    "auction_log_sample_rate": _fraction,
    "snapshot_refresh_seconds": _seconds(zero=False),
    "model_path": str,
    "history_refresh_seconds": _seconds(zero=False),
    "history_days": _integer(1),
    "exploration_share": _fraction,
    "new_ad_impressions": _integer(0),
    "retrain_days": _integer(1),
    "retrain_trees": _integer(1),
    "auto_activate_models": _boolean,
    "balance_refresh_seconds": _seconds(zero=False),
    "spend_refresh_seconds": _seconds(zero=False),
    "min_top_up_micros": _integer(1),
    "max_top_up_micros": _integer(1),
    "payout_compute_at": _time_of_day,
    "payout_auto_pay": _boolean,
    "secure_cookies": _boolean,
    "trusted_proxies": _integer(0),
    "key_cache_seconds": _seconds(zero=True),  # 0: no cache
}
# Stripe's own names, as its documentation and dashboards use them.
_STRIPE_SETTINGS = {
    "stripe_api_key": "STRIPE_API_KEY",
    "stripe_api_base": "STRIPE_API_BASE",
    "stripe_publishable_key": "STRIPE_PUBLISHABLE_KEY",
    "stripe_webhook_secret": "STRIPE_WEBHOOK_SECRET",
}


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=database_url_from_env)
    secret_key: str = ""
    # Largest request body accepted, in bytes; larger ones get 413.
    max_content_length: int = 1_048_576
    log_level: str = "INFO"
    # How often an API key's last-used time is written, at most (seconds).
    key_touch_interval_seconds: int = 60
    # How long a worker trusts a key it has checked; revocations reach other workers within.
    key_cache_seconds: float = 5.0
    # Shared counters for budgets, pacing and frequency caps; None keeps them in-process.
    redis_url: str | None = None
    # Auction floors, in micros of the advertiser's currency: per 1000 impressions / per click.
    reserve_cpm_micros: int = 100_000
    reserve_cpc_micros: int = 10_000
    # How long the feed service has to report an impression or click with its token.
    token_ttl_seconds: int = 86_400
    # Share of auctions logged whole (every candidate) for audit and replay.
    auction_log_sample_rate: float = 0.01
    # How often each worker checks the database for changed ad groups and a newly activated
    # CTR model.
    snapshot_refresh_seconds: float = 1.0
    # How often each worker reloads the click-through history the model reads, and over how
    # many trailing days it is counted.
    history_refresh_seconds: float = 60.0
    history_days: int = 30
    # Share of pages whose last ad slot goes to a new ad group (fewer impressions than
    # new_ad_impressions) at its reserve price; so at most this share of ad slots.
    exploration_share: float = 0.05
    new_ad_impressions: int = 200
    # The scheduled retraining: window of logs, trees, and whether a better model is
    # activated without a person.
    retrain_days: int = 7
    retrain_trees: int = 200
    auto_activate_models: bool = True
    # The model served while the registry has no active one: a model artifact or LightGBM
    # model file; None: instance/ctr_model.txt if present, else a constant prior.
    model_path: str | None = None
    # How often each worker re-reads advertisers' balances less their unposted spend; an
    # advertiser whose money runs out stops serving within about this long.
    balance_refresh_seconds: float = 1.0
    # How often each worker raises its in-process spend counters to the spend the database
    # has recorded, which holds the other workers' charges: a budget spent through another
    # worker stops within about this long (longer if raising takes over 1% of the worker's
    # time). Unused with Redis, which every worker shares.
    spend_refresh_seconds: float = 10.0
    # Top-up limits, in micros of the advertiser's currency.
    min_top_up_micros: int = 1_000_000
    max_top_up_micros: int = 1_000_000_000_000
    # The creator fund: when the daily job computes yesterday's payout run (UTC, HH:MM), and
    # whether approved runs are paid without a person asking (off: finance pays).
    payout_compute_at: str = "01:30"
    payout_auto_pay: bool = False
    # Stripe: without an API key, top-ups and refunds answer 503 and everything else works.
    # The API base points the SDK at another server (localstripe in the tests).
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    # Web session cookies are sent over HTTPS only. Turn on wherever the pages are served
    # over HTTPS; off by default so the embedded demo works on http://127.0.0.1.
    secure_cookies: bool = False
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto: the client's
    # address (sign-in limits per address) is read through that many. 0 trusts no header.
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        env = os.environ
        values: dict[str, Any] = {
            "database_url": database_url_from_env(),
            "secret_key": env.get(f"{ENV_PREFIX}SECRET_KEY", ""),
            "log_level": env.get(f"{ENV_PREFIX}LOG_LEVEL", "INFO").upper(),
        }
        if not isinstance(logging.getLevelName(values["log_level"]), int):
            raise ConfigError(
                f"{ENV_PREFIX}LOG_LEVEL={values['log_level']!r}: use DEBUG, INFO, WARNING or ERROR"
            )
        for name, variable in _STRIPE_SETTINGS.items():
            values[name] = env.get(variable) or None
        for name, parse in _TYPED_SETTINGS.items():
            variable = f"{ENV_PREFIX}{name.upper()}"
            raw = env.get(variable)
            if raw:
                try:
                    values[name] = parse(raw)
                except ValueError as error:
                    raise ConfigError(f"{variable}={raw!r}: {error}") from None
        settings = cls(**values)
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = replace(settings, **overrides)
        if not settings.secret_key:
            settings = replace(settings, secret_key=_persistent_secret_key())
        return settings
