"""Advertisers name their industry (an interest slug): the CTR model's industry_match feature

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("advertisers") as batch:
        batch.add_column(sa.Column("industry", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("advertisers") as batch:
        batch.drop_column("industry")
