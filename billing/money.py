"""Money as an integer number of micros of a currency, and Stripe's minor units.

1 unit of a currency (a dollar, a yen) is 1,000,000 micros. Stripe counts in the currency's
minor unit: cents for USD (2 decimals), whole yen for JPY (0 decimals), fils for KWD
(3 decimals). Converting never rounds: an amount that is not a whole number of minor units
is refused, because a silently rounded cent is a cent nobody can account for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MICROS_PER_UNIT = 1_000_000

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"]
    + ["PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# Amounts Stripe accepts only in coarser steps than the minor unit, in micros: ISK has two
# decimals in the API but must be whole krónur; three-decimal amounts must end in 0.
# https://docs.stripe.com/currencies#special-cases
STRIPE_STEP_MICROS = {"ISK": 1_000_000} | dict.fromkeys(THREE_DECIMAL, 10_000)

# More whole units than any amount a form takes (10^15 units is far above any budget), and
# well below what int() reads from text.
MAX_WHOLE_DIGITS = 15
# A typed amount: ASCII digits, commas only between groups of three, an optional fraction.
_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<fraction>[0-9]*))?")


class InexactAmount(ValueError):
    """An amount that is not a whole number of the currency's minor units."""


class CurrencyMismatch(ValueError):
    """Amounts of two currencies added together: there are no exchange rates here."""


def decimals(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def micros_per_minor_unit(currency: str) -> int:
    return MICROS_PER_UNIT // 10 ** decimals(currency)


def stripe_step_micros(currency: str) -> int:
    """The smallest step of an amount Stripe accepts in this currency, in micros."""
    code = currency.upper()
    return STRIPE_STEP_MICROS.get(code, micros_per_minor_unit(code))


def to_minor_units(micros: int, currency: str) -> int:
    """Micros → the integer amount Stripe expects (cents, yen, ...), exactly or not at all."""
    step = stripe_step_micros(currency)
    if micros % step:
        raise InexactAmount(
            f"{micros} micros is not a whole number of {currency.upper()} steps that Stripe "
            f"takes (multiples of {step} micros)"
        )
    return micros // micros_per_minor_unit(currency)


def from_minor_units(amount: int, currency: str) -> int:
    """Stripe's integer amount → micros (always exact)."""
    return amount * micros_per_minor_unit(currency)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in micros of one currency; arithmetic across currencies is refused."""

    currency: str
    micros: int

    def __post_init__(self) -> None:
        if type(self.micros) is not int:  # bool, float or Decimal would slip through int math
            raise TypeError(f"micros must be an int, not {type(self.micros).__name__}")
        code = self.currency
        if len(code) != 3 or not (code.isascii() and code.isalpha() and code.isupper()):
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not add up")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.micros + other.micros)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.micros - other.micros)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.micros)

    def minor_units(self) -> int:
        return to_minor_units(self.micros, self.currency)

    def __str__(self) -> str:
        places = decimals(self.currency)
        sign = "-" if self.micros < 0 else ""
        units, rest = divmod(abs(self.micros), MICROS_PER_UNIT)
        fraction = f"{rest:06d}"
        # Show at least the currency's decimals, more only when the micros need them.
        shown = fraction.rstrip("0").ljust(places, "0") if places or rest else ""
        return f"{sign}{units}{'.' + shown if shown else ''} {self.currency}"


def parse_amount(text: str, currency: str) -> int:
    """What a person types ("12.50", "1,200", "0.005") → micros, exactly or not at all.

    Up to six decimals (a micro); commas may group thousands. Anything else, signs
    included, is refused with a message meant for a form."""
    found = _AMOUNT.fullmatch(text.strip())
    if found is None or not (found["whole"] or found["fraction"]):
        raise ValueError(f"Enter an amount in {currency.upper()}, such as 12.50.")
    fraction = found["fraction"] or ""
    if len(fraction) > 6:
        raise ValueError("Use at most six decimals.")
    if len(found["whole"].replace(",", "")) > MAX_WHOLE_DIGITS:
        raise ValueError("That amount is too large.")
    whole = int(found["whole"].replace(",", "") or "0")
    return whole * MICROS_PER_UNIT + int(fraction.ljust(6, "0"))


def format_amount(micros: int) -> str:
    """Micros as a plain decimal for a form field ("12.5" for 12,500,000): the inverse of
    :func:`parse_amount`, without the currency."""
    sign = "-" if micros < 0 else ""
    units, rest = divmod(abs(micros), MICROS_PER_UNIT)
    fraction = f"{rest:06d}".rstrip("0")
    return f"{sign}{units}.{fraction}" if fraction else f"{sign}{units}"
