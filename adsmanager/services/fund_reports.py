"""What finance reads about a payout run: each creator's line explained in words, the run as
CSV, its totals and the distribution of its payouts as a chart."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from fractions import Fraction

from sqlalchemy import select

from adsmanager.db.creator_fund import PayoutLine, PayoutRun
from adsmanager.db.database import Database
from adsmanager.services import fund_rules, payout_runs
from adsmanager.services.spreadsheet import cell
from billing.fund_distribution import distribution_chart, gini
from billing.fund_rules import Exclusion, Rules
from billing.money import Money

_RULE_TEXT = {
    Exclusion.NOT_JOINED: lambda r: "has not joined the programme (by the end of the period)",
    Exclusion.AGE_NOT_VERIFIED: lambda r: "age not verified",
    Exclusion.UNDER_MINIMUM_AGE: lambda r: f"younger than {r.min_age}",
    Exclusion.TOO_FEW_FOLLOWERS: lambda r: f"fewer than {r.min_followers:,} followers",
    Exclusion.TOO_FEW_TRAILING_VIEWS: lambda r: (
        f"fewer than {r.min_trailing_qualified_views:,} qualified views in the trailing "
        f"{r.trailing_days} days"
    ),
    Exclusion.COUNTRY_NOT_IN_PROGRAMME: lambda r: "country not in the programme",
    Exclusion.NOT_IN_GOOD_STANDING: lambda r: "account not in good standing",
    Exclusion.NO_QUALIFIED_VIEWS: lambda r: "no qualified views in the period",
}


def decimal_micros(value: Fraction | int, places: int = 6) -> str:
    """A fraction of micros as a decimal string, rounded half to even at ``places``."""
    scaled = round(Fraction(value) * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, rest = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{rest:0{places}d}" if places else f"{sign}{whole}"


def _money(micros: int, currency: str) -> str:
    return str(Money(currency, micros))


def explain(run: PayoutRun, line: PayoutLine, rules: Rules) -> list[str]:
    """The line in sentences: eligibility, weight, share, rounding, cap, carry-over,
    clawbacks and what happens to the balance."""
    cur = run.currency
    said = []
    if line.exclusions:
        reasons = "; ".join(_RULE_TEXT[Exclusion(e)](rules) for e in line.exclusions)
        said.append(f"Not eligible under rules version {run.rules_version}: {reasons}.")
    else:
        said.append(
            f"Eligible under rules version {run.rules_version}: age ≥ {rules.min_age}, "
            f"≥ {rules.min_followers:,} followers, {line.trailing_qualified_views:,} qualified "
            f"views in the trailing {rules.trailing_days} days "
            f"(≥ {rules.min_trailing_qualified_views:,}), country in the programme, "
            "good standing, joined the programme."
        )
        bonus = line.weight - line.qualified_views
        said.append(
            f"Weight {line.weight:,}: {line.qualified_views:,} qualified views in the period"
            + (f" plus an engagement bonus of {bonus:,}." if bonus else ".")
        )
        exact = payout_runs.exact_share_of(run, line)
        rate = Fraction(run.rate)
        if line.capped:
            said.append(
                f"Exact share {decimal_micros(exact)} micros: held at the cap of "
                f"{_money(run.cap_micros, cur)} (weight × rate would be more); the excess "
                "went to the creators below the cap."
            )
        else:
            said.append(
                f"Exact share {decimal_micros(exact)} micros = weight × "
                f"{decimal_micros(rate)} micros per qualified view, pro rata of a pool of "
                f"{_money(run.pool_micros, cur)}."
            )
        said.append(
            f"Rounded to {_money(line.share_micros, cur)} "
            f"({decimal_micros(line.share_micros - exact)} micros) by the largest-remainder "
            "method, so the shares add up to the pool exactly."
        )
    details = line.details or {}
    if line.carried_in_micros:
        said.append(
            f"Carried in {_money(line.carried_in_micros, cur)} from run(s) "
            f"{', '.join(details.get('carried_from', []))}."
        )
    for taken in details.get("clawbacks", []):
        said.append(
            f"Clawback {_money(taken['micros'], cur)} for run {taken['run_id']}: its weight "
            f"fell from {taken['weight_paid']:,} to {taken['weight_now']:,} (traffic found "
            "invalid later)."
        )
    balance = line.payable_micros + line.carried_out_micros
    if line.payable_micros:
        said.append(
            f"Balance {_money(balance, cur)} reaches the minimum payout of "
            f"{_money(rules.minimum_payout_micros, cur)}: paid by Stripe transfer."
        )
    elif balance and not line.exclusions:
        said.append(
            f"Balance {_money(balance, cur)} is below the minimum payout of "
            f"{_money(rules.minimum_payout_micros, cur)}: carried over to the next run."
        )
    elif balance:
        said.append(f"Balance {_money(balance, cur)} is carried over while not eligible.")
    return said


class ExplainedLine:
    """A line with its explanation; reads like the line otherwise."""

    def __init__(self, line: PayoutLine, explanation: list[str]) -> None:
        self.line = line
        self.explanation = explanation

    def __getattr__(self, name: str):
        return getattr(self.line, name)


def explanation(db: Database, run_id: str, creator_id: str) -> ExplainedLine:
    run, line = payout_runs.line(db, run_id, creator_id)
    with db.read() as session:
        rules = fund_rules.get_in(session, run.rules_version)
    return ExplainedLine(line, explain(run, line, rules))


CSV_COLUMNS = (
    "creator_id",
    "status",
    "exclusions",
    "qualified_views",
    "interactions",
    "trailing_qualified_views",
    "weight",
    "exact_share_micros",
    "capped",
    "share_micros",
    "rounding_micros",
    "carried_in_micros",
    "clawback_micros",
    "payable_micros",
    "carried_out_micros",
    "stripe_account_id",
    "stripe_transfer_id",
    "failure_reason",
)


def csv_rows(run: PayoutRun, lines: Iterable[PayoutLine]) -> Iterator[str]:
    """The run as CSV, one line per creator, streamed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(["run_id", "period", "currency", *CSV_COLUMNS])
    yield flush()
    for line in lines:
        exact = Fraction(line.exact_share)
        values = {
            **{name: getattr(line, name, None) for name in CSV_COLUMNS},
            "status": line.status.value,
            "exclusions": " ".join(line.exclusions),
            "exact_share_micros": decimal_micros(exact),
            "rounding_micros": decimal_micros(line.share_micros - exact),
            "capped": "true" if line.capped else "false",
        }
        writer.writerow(
            [run.id, run.period_start.isoformat(), run.currency]
            + [cell(values[name]) for name in CSV_COLUMNS]
        )
        yield flush()


def _payable(db: Database, run_id: str) -> list[int]:
    with db.read() as session:
        return list(
            session.scalars(
                select(PayoutLine.payable_micros).where(
                    PayoutLine.run_id == run_id, PayoutLine.payable_micros > 0
                )
            )
        )


def _percentile(ordered: list[int], q: float) -> int:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


def report(db: Database, run_id: str) -> dict:
    """Totals, the spread of payouts, carry-overs and exclusions by reason."""
    run = payout_runs.get(db, run_id)
    payable = sorted(_payable(db, run_id))
    return {
        "run_id": run.id,
        "status": run.status,
        "currency": run.currency,
        "pool_micros": run.pool_micros,
        "distributed_micros": run.distributed_micros,
        "totals": run.totals,
        "distribution": {
            "creators_paid": len(payable),
            "gini": round(gini(payable), 4),
            "min_micros": payable[0] if payable else 0,
            "median_micros": _percentile(payable, 0.5),
            "p90_micros": _percentile(payable, 0.9),
            "p99_micros": _percentile(payable, 0.99),
            "max_micros": payable[-1] if payable else 0,
        },
    }


def distribution_png(db: Database, run_id: str) -> bytes:
    run = payout_runs.get(db, run_id)
    buffer = io.BytesIO()
    distribution_chart(
        _payable(db, run_id),
        run.currency,
        buffer,
        title=f"Payout run {run.id} ({run.period_start.isoformat()}): payouts",
    )
    return buffer.getvalue()
