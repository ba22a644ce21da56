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


# ISO 4217 codes that are not money an account can hold: precious metals, bond-market
# units, SDRs, the testing code and "no currency", and fund codes (units of account).
NOT_MONEY = frozenset(
    ("XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX")
    + ("BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW")
)
# Files in the zoneinfo folder that are not zones: "localtime" is whatever the host's clock
# is set to, "Factory" a placeholder.
NOT_ZONES = frozenset(("localtime", "posixrules", "Factory"))


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies) - NOT_MONEY


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


def time_zone_error(name: str) -> str | None:
    """What is wrong with ``name`` as a time zone, or None when it is one."""
    if name in time_zones():
        return None
    return f"Unknown time zone '{name}'; use an IANA name, e.g. 'America/New_York'."


@cache
def countries() -> tuple[tuple[str, str], ...]:
    """(code, name) of every country, by name: for pickers."""
    return tuple(sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1]))


@cache
def languages() -> tuple[tuple[str, str], ...]:
    """(code, name) of every language with a two-letter code, by name: for pickers."""
    coded = (lang for lang in pycountry.languages if hasattr(lang, "alpha_2"))
    return tuple(sorted(((lang.alpha_2, lang.name) for lang in coded), key=lambda c: c[1]))
