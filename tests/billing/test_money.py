"""Micros, Stripe's minor units and Money, checked against amounts worked out by hand.

1 unit is 1_000_000 micros, so a cent is 10_000 micros, a yen 1_000_000 and a fils 1_000.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import (
    CurrencyMismatch,
    InexactAmount,
    Money,
    decimals,
    format_amount,
    from_minor_units,
    micros_per_minor_unit,
    parse_amount,
    stripe_step_micros,
    to_minor_units,
)

CURRENCIES = ["USD", "EUR", "JPY", "KRW", "KWD", "BHD", "GBP"]

# --- minor units ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "places", "step"),
    [("USD", 2, 10_000), ("EUR", 2, 10_000), ("JPY", 0, 1_000_000), ("KWD", 3, 1_000)],
)
def test_decimals_and_micros_per_minor_unit_follow_stripe_currency_lists(currency, places, step):
    assert decimals(currency) == places
    assert micros_per_minor_unit(currency) == step


def test_currency_lookup_ignores_case():
    assert decimals("jpy") == 0
    assert decimals("kwd") == 3


@pytest.mark.parametrize(
    ("micros", "currency", "minor"),
    [
        (12_340_000, "USD", 1234),  # $12.34 is 1234 cents
        (10_000, "USD", 1),
        (0, "USD", 0),
        (-2_500_000, "USD", -250),
        (500_000_000, "JPY", 500),  # ¥500 is 500 yen, not 50000
        (1_000_000, "JPY", 1),
        (1_230_000, "KWD", 1230),  # 1.230 KWD is 1230 fils
        (10_000, "KWD", 10),
        (15_000_000, "ISK", 1500),  # whole krónur, sent with two decimals
    ],
)
def test_to_minor_units_converts_exact_amounts(micros, currency, minor):
    assert to_minor_units(micros, currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "micros"),
    [(1234, "USD", 12_340_000), (500, "JPY", 500_000_000), (1230, "KWD", 1_230_000), (0, "USD", 0)],
)
def test_from_minor_units_converts_stripe_amounts_to_micros(minor, currency, micros):
    assert from_minor_units(minor, currency) == micros


@pytest.mark.parametrize(
    ("micros", "currency"),
    [
        (1_234_567, "USD"),  # $1.234567 is not a whole number of cents
        (5_000, "USD"),  # half a cent, the classic rounding trap
        (-5_000, "USD"),
        (1, "USD"),
        (1_500_000, "JPY"),  # ¥1.5
        (999_999, "JPY"),
        (1_234_500, "KWD"),  # 1.2345 KWD
        (1_234_000, "KWD"),  # 1.234 KWD: Stripe wants three-decimal amounts to end in 0
        (1_500_000, "ISK"),  # 1.50 ISK: Stripe takes whole krónur
    ],
)
def test_to_minor_units_refuses_to_round_an_inexact_amount(micros, currency):
    with pytest.raises(InexactAmount, match="not a whole number"):
        to_minor_units(micros, currency)


def test_money_minor_units_refuses_an_inexact_amount():
    assert Money("USD", 25_000_000).minor_units() == 2500
    with pytest.raises(InexactAmount):
        Money("USD", 1_234_567).minor_units()


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(CURRENCIES)
)
def test_from_then_to_minor_units_is_the_identity(minor, currency):
    minor -= minor % (stripe_step_micros(currency) // micros_per_minor_unit(currency))
    assert to_minor_units(from_minor_units(minor, currency), currency) == minor


@given(
    micros=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(CURRENCIES)
)
def test_to_minor_units_is_exact_or_refused(micros, currency):
    try:
        minor = to_minor_units(micros, currency)
    except InexactAmount:
        # Not a whole minor unit, or not a step Stripe takes (whole krónur, 10 fils).
        assert micros % stripe_step_micros(currency) != 0
    else:
        assert from_minor_units(minor, currency) == micros


# --- Money -----------------------------------------------------------------------------------


@pytest.mark.parametrize("micros", [1.0, 1.5, True, False, "100", None])
def test_money_refuses_micros_that_are_not_an_int(micros):
    with pytest.raises(TypeError, match="micros must be an int"):
        Money("USD", micros)


@pytest.mark.parametrize("currency", ["usd", "Usd", "US", "USDX", "", "US1", "U$D", "12 "])
def test_money_refuses_a_currency_that_is_not_an_uppercase_three_letter_code(currency):
    with pytest.raises(ValueError, match="not an ISO 4217 code"):
        Money(currency, 0)


def test_money_refuses_a_currency_code_with_non_ascii_letters():
    with pytest.raises(ValueError, match="not an ISO 4217 code"):
        Money("ÅÄÖ", 0)


def test_money_adds_and_subtracts_within_one_currency():
    assert Money("USD", 1_500_000) + Money("USD", 250_000) == Money("USD", 1_750_000)
    assert Money("USD", 1_500_000) - Money("USD", 2_000_000) == Money("USD", -500_000)
    assert -Money("JPY", 3_000_000) == Money("JPY", -3_000_000)
    assert Money.zero("KWD") == Money("KWD", 0)


def test_money_refuses_to_add_or_subtract_different_currencies():
    with pytest.raises(CurrencyMismatch):
        Money("USD", 1_000_000) + Money("EUR", 1_000_000)
    with pytest.raises(CurrencyMismatch):
        Money("USD", 1_000_000) - Money("JPY", 1_000_000)


def test_money_is_immutable():
    money = Money("USD", 1)
    with pytest.raises(AttributeError):
        money.micros = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money("USD", 12_340_000), "12.34 USD"),
        (Money("USD", 5_000_000), "5.00 USD"),  # at least the currency's two decimals
        (Money("USD", 0), "0.00 USD"),
        (Money("USD", -12_340_000), "-12.34 USD"),
        (Money("USD", -1_500), "-0.0015 USD"),  # more decimals only when micros need them
        (Money("USD", 1), "0.000001 USD"),
        (Money("JPY", 5_000_000), "5 JPY"),  # no decimal point for zero-decimal currencies
        (Money("JPY", 1_500_000), "1.5 JPY"),
        (Money("KWD", 1_000_000), "1.000 KWD"),
        (Money("KWD", 1_230_000), "1.230 KWD"),
    ],
)
def test_str_shows_the_currency_decimals_and_any_further_micros(money, text):
    assert str(money) == text


@pytest.mark.parametrize(
    ("typed", "micros"),
    [
        ("12.50", 12_500_000),
        (" 3 ", 3_000_000),
        ("0.000001", 1),
        (".5", 500_000),
        ("5.", 5_000_000),
        ("1,200", 1_200_000_000),
        ("12,345,678.9", 12_345_678_900_000),
    ],
)
def test_a_typed_amount_becomes_exact_micros(typed, micros):
    assert parse_amount(typed, "USD") == micros
    assert parse_amount(format_amount(micros), "USD") == micros


@pytest.mark.parametrize(
    "typed", ["", ".", "-1", "+1", "1e3", "12.3.4", "1,2,3", "1,20", "١٢", "12 50", "$5", "NaN"]
)
def test_anything_but_a_plain_amount_is_refused_with_a_message_for_a_person(typed):
    with pytest.raises(ValueError, match="Enter an amount in USD, such as 12.50."):
        parse_amount(typed, "usd")


def test_more_than_six_decimals_is_refused_not_rounded():
    with pytest.raises(ValueError, match="at most six decimals"):
        parse_amount("0.0000005", "USD")


def test_an_absurdly_long_amount_is_refused_politely():
    with pytest.raises(ValueError, match="too large"):
        parse_amount("9" * 5000, "USD")
    assert parse_amount("9" * 15, "USD") == 10**21 - 10**6


@pytest.mark.parametrize("micros", [-1, -1_500_000, -3_000_000, 0])
def test_format_amount_keeps_the_sign(micros):
    assert parse_amount(format_amount(abs(micros)), "USD") == abs(micros)
    assert format_amount(micros) == ("-" if micros < 0 else "") + format_amount(abs(micros))
