"""Auction logs keep their slots, for replays

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 02:02:44.702323
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auction_logs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "slots",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_auction_logs_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auction_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auction_logs_at"))
        batch_op.drop_column("slots")
