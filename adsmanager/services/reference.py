"""Reference code lists: ISO 3166-1 countries, ISO 639-1 languages, ISO 4217 currencies,
IANA time zones."""

from __future__ import annotations

import zoneinfo
from functools import cache

import pycountry


@cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


@cache
def language_codes() -> frozenset[str]:
    return frozenset(
        language.alpha_2 for language in pycountry.languages if hasattr(language, "alpha_2")
    )


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())
