"""Posting rules: which accounts each movement touches, with which sign, under which key."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.ledger import (
    Account,
    AccountKind,
    EntryKind,
    JournalEntry,
    Posting,
    UnbalancedEntry,
    advertiser_balance,
    manual_credit,
    platform,
    refund,
    spend,
    top_up,
)
from billing.money import Money

TEN_DOLLARS = Money("USD", 10_000_000)
ADV = advertiser_balance("adv_1", "USD")
CLEARING = platform(AccountKind.STRIPE_CLEARING, "USD")
REVENUE = platform(AccountKind.PLATFORM_REVENUE, "USD")
CREDITS = platform(AccountKind.PLATFORM_CREDITS, "USD")


def by_account(entry: JournalEntry) -> dict[Account, int]:
    amounts: dict[Account, int] = defaultdict(int)
    for posting in entry.postings:
        amounts[posting.account] += posting.micros
    return dict(amounts)


# --- the four rules --------------------------------------------------------------------------


def test_top_up_moves_money_from_stripe_clearing_to_the_advertiser_balance():
    entry = top_up("adv_1", TEN_DOLLARS, "pi_123", "tu_9")
    assert entry.key == "top-up:pi_123"
    assert entry.kind == EntryKind.TOP_UP
    assert by_account(entry) == {CLEARING: -10_000_000, ADV: 10_000_000}
    assert sum(p.micros for p in entry.postings) == 0
    assert entry.amount_for(ADV) == 10_000_000
    assert (entry.advertiser_id, entry.reference) == ("adv_1", "tu_9")


def test_refund_moves_money_from_the_advertiser_balance_back_to_stripe_clearing():
    entry = refund("adv_1", TEN_DOLLARS, "re_456", "tu_9", "customer asked")
    assert entry.key == "refund:re_456"
    assert entry.kind == EntryKind.REFUND
    assert by_account(entry) == {ADV: -10_000_000, CLEARING: 10_000_000}
    assert sum(p.micros for p in entry.postings) == 0
    assert (entry.advertiser_id, entry.reference, entry.memo) == ("adv_1", "tu_9", "customer asked")


def test_manual_credit_is_a_platform_cost_that_raises_the_advertiser_balance():
    entry = manual_credit("adv_1", TEN_DOLLARS, "cr_7", "make-good")
    assert entry.key == "credit:cr_7"
    assert entry.kind == EntryKind.MANUAL_CREDIT
    assert by_account(entry) == {CREDITS: -10_000_000, ADV: 10_000_000}
    assert sum(p.micros for p in entry.postings) == 0
    assert (entry.advertiser_id, entry.reference, entry.memo) == ("adv_1", "cr_7", "make-good")


def test_spend_moves_money_from_the_advertiser_balance_to_platform_revenue():
    entry = spend("adv_1", "camp_3", TEN_DOLLARS, 4242)
    assert entry.key == "spend:4242"
    assert entry.kind == EntryKind.SPEND
    assert by_account(entry) == {ADV: -10_000_000, REVENUE: 10_000_000}
    assert sum(p.micros for p in entry.postings) == 0
    assert (entry.advertiser_id, entry.campaign_id) == ("adv_1", "camp_3")


def test_rules_post_in_the_amount_currency():
    entry = top_up("adv_1", Money("JPY", 500_000_000), "pi_1", "tu_1")
    assert by_account(entry) == {
        platform(AccountKind.STRIPE_CLEARING, "JPY"): -500_000_000,
        advertiser_balance("adv_1", "JPY"): 500_000_000,
    }


@pytest.mark.parametrize("micros", [0, -1, -10_000_000])
@pytest.mark.parametrize(
    "rule",
    [
        lambda amount: top_up("adv_1", amount, "pi_1", "tu_1"),
        lambda amount: refund("adv_1", amount, "re_1", "tu_1", "reason"),
        lambda amount: manual_credit("adv_1", amount, "cr_1", "reason"),
        lambda amount: spend("adv_1", "camp_1", amount, 1),
    ],
    ids=["top_up", "refund", "manual_credit", "spend"],
)
def test_rules_refuse_an_amount_that_is_not_positive(rule, micros):
    with pytest.raises(ValueError, match="must be positive"):
        rule(Money("USD", micros))


# --- JournalEntry invariants -------------------------------------------------------------------


def entry(*postings: Posting, key: str = "k") -> JournalEntry:
    return JournalEntry(key=key, kind=EntryKind.MANUAL_CREDIT, postings=postings)


def test_a_balanced_entry_is_accepted():
    made = entry(Posting(CREDITS, -5), Posting(ADV, 3), Posting(ADV, 2))
    assert made.amount_for(ADV) == 5
    assert made.amount_for(CREDITS) == -5
    assert made.amount_for(REVENUE) == 0


def test_an_entry_needs_an_idempotency_key():
    with pytest.raises(UnbalancedEntry, match="idempotency key"):
        entry(Posting(CREDITS, -5), Posting(ADV, 5), key="")


@pytest.mark.parametrize("postings", [(), (Posting(ADV, 0),), (Posting(ADV, 5),)])
def test_an_entry_needs_at_least_two_postings(postings):
    with pytest.raises(UnbalancedEntry, match="at least two"):
        entry(*postings)


def test_an_entry_refuses_a_zero_posting():
    with pytest.raises(UnbalancedEntry, match="non-zero int"):
        entry(Posting(CREDITS, -5), Posting(ADV, 5), Posting(REVENUE, 0))


@pytest.mark.parametrize("bad", [5.0, True, "5"])
def test_an_entry_refuses_a_posting_that_is_not_an_int(bad):
    with pytest.raises(UnbalancedEntry, match="non-zero int"):
        entry(Posting(CREDITS, -5), Posting(ADV, bad))


def test_an_entry_refuses_postings_that_do_not_sum_to_zero():
    with pytest.raises(UnbalancedEntry, match="do not sum to zero"):
        entry(Posting(CREDITS, -5), Posting(ADV, 4))


def test_an_entry_must_balance_in_each_currency_not_just_overall():
    eur = advertiser_balance("adv_1", "EUR")
    # +5 USD and -5 EUR sum to zero as numbers, but money cannot change currency this way.
    with pytest.raises(UnbalancedEntry, match="do not sum to zero") as raised:
        entry(Posting(CREDITS, -5), Posting(ADV, 10), Posting(eur, -5))
    assert "USD" in str(raised.value) and "EUR" in str(raised.value)


def test_an_entry_balanced_in_each_of_two_currencies_is_accepted():
    eur_adv = advertiser_balance("adv_1", "EUR")
    eur_credits = platform(AccountKind.PLATFORM_CREDITS, "EUR")
    made = entry(
        Posting(CREDITS, -5), Posting(ADV, 5), Posting(eur_credits, -7), Posting(eur_adv, 7)
    )
    assert made.amount_for(eur_adv) == 7


# --- property: any sequence of movements keeps the books balanced ---------------------------

ADVERTISERS = ["adv_a", "adv_b", "adv_c"]
CURRENCIES = ["USD", "EUR", "JPY"]
RULES = ["top_up", "refund", "manual_credit", "spend"]

movements = st.lists(
    st.tuples(
        st.sampled_from(RULES),
        st.sampled_from(ADVERTISERS),
        st.sampled_from(CURRENCIES),
        st.integers(min_value=1, max_value=10**12),
    ),
    max_size=40,
)


def apply(rule: str, advertiser: str, amount: Money, n: int) -> JournalEntry:
    if rule == "top_up":
        return top_up(advertiser, amount, f"pi_{n}", f"tu_{n}")
    if rule == "refund":
        return refund(advertiser, amount, f"re_{n}", f"tu_{n}", "asked")
    if rule == "manual_credit":
        return manual_credit(advertiser, amount, f"cr_{n}", "goodwill")
    return spend(advertiser, f"camp_{n}", amount, n)


@given(movements)
def test_any_sequence_of_movements_keeps_every_currency_balanced(steps):
    balances: dict[Account, int] = defaultdict(int)
    per_currency: dict[str, int] = defaultdict(int)
    expected: dict[tuple[str, str], int] = defaultdict(int)
    keys = set()
    for n, (rule, advertiser, currency, micros) in enumerate(steps):
        made = apply(rule, advertiser, Money(currency, micros), n)
        keys.add(made.key)
        for posting in made.postings:
            balances[posting.account] += posting.micros
            per_currency[posting.account.currency] += posting.micros
        credit = rule in ("top_up", "manual_credit")
        expected[(advertiser, currency)] += micros if credit else -micros

    assert len(keys) == len(steps)  # distinct events get distinct idempotency keys
    assert all(total == 0 for total in per_currency.values())
    for advertiser in ADVERTISERS:
        for currency in CURRENCIES:
            account = advertiser_balance(advertiser, currency)
            assert balances[account] == expected[(advertiser, currency)]
    for currency in CURRENCIES:
        revenue = sum(m for r, _, c, m in steps if r == "spend" and c == currency)
        assert balances[platform(AccountKind.PLATFORM_REVENUE, currency)] == revenue
