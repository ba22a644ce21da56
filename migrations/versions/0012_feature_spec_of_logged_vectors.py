"""Served ads and auction logs name the feature spec their vectors were built under

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("served_ads", "auction_logs")


def upgrade() -> None:
    # Rows logged before stay NULL: which spec built them is not known, so neither training
    # nor replay reads them.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("feature_spec", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("feature_spec")
