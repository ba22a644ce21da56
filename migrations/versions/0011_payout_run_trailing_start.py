"""Payout runs keep the first day of their trailing window: a clawback looks for corrections
over the whole window, not only the period

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 17:00:00.000000
"""

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a rules version without ``trailing_days`` means (``billing.fund_rules.Rules``).
DEFAULT_TRAILING_DAYS = 30

payout_runs = sa.table(
    "payout_runs",
    sa.column("id", sa.String),
    sa.column("period_end", sa.Date),
    sa.column("rules_version", sa.Integer),
    sa.column("trailing_start", sa.Date),
)
fund_rules = sa.table(
    "fund_rules",
    sa.column("version", sa.Integer),
    sa.column("rules", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("payout_runs") as batch:
        batch.add_column(sa.Column("trailing_start", sa.Date(), nullable=True))
    _backfill()
    with op.batch_alter_table("payout_runs") as batch:
        batch.alter_column("trailing_start", existing_type=sa.Date(), nullable=False)


def _backfill() -> None:
    """Each run's window as computing it used: period_end − trailing_days + 1 of its rules."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(payout_runs.c.id, payout_runs.c.period_end, fund_rules.c.rules).join(
            fund_rules, fund_rules.c.version == payout_runs.c.rules_version
        )
    ).all()
    starts = [
        {"run_id": run_id, "start": _trailing_start(period_end, rules)}
        for run_id, period_end, rules in rows
    ]
    if starts:
        connection.execute(
            payout_runs.update()
            .where(payout_runs.c.id == sa.bindparam("run_id"))
            .values(trailing_start=sa.bindparam("start")),
            starts,
        )


def _trailing_start(period_end: date, rules: dict) -> date:
    days = int((rules or {}).get("trailing_days", DEFAULT_TRAILING_DAYS))
    return period_end - timedelta(days=days - 1)


def downgrade() -> None:
    with op.batch_alter_table("payout_runs") as batch:
        batch.drop_column("trailing_start")
